//! The public API can grow without breaking users: models cannot be built or
//! destructured exhaustively outside the crate, unknown enum values are
//! opaque, and what users do instead compiles. Each `api_shape/*.rs` is
//! compiled as a user's crate would be; the expected compiler errors are in
//! the `.stderr` files next to them (`TRYBUILD=overwrite` regenerates them
//! after a toolchain upgrade).

#[test]
fn public_api_shape() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/api_shape/model_literal.rs");
    cases.compile_fail("tests/api_shape/model_destructure.rs");
    cases.compile_fail("tests/api_shape/unknown_variant.rs");
    cases.compile_fail("tests/api_shape/error_literal.rs");
    cases.pass("tests/api_shape/builds_from_outside.rs");
}
