//! The README's demo (to be written).
fn main() {}
