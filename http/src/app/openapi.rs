//! The servers' OpenAPI document of the public API, generated from the
//! handlers' annotations and the SDK's models. The drift test compares it
//! with `openapi.yaml`.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};

use jobs_sdk::ErrorBody;

/// Reusable 401 answer (`#/components/responses/Unauthorized`).
pub(crate) struct Unauthorized;

/// Reusable 403 answer (`#/components/responses/Forbidden`).
pub(crate) struct Forbidden;

/// Reusable 429 answer (`#/components/responses/TooManyRequests`).
pub(crate) struct TooManyRequests;

/// Reusable 414 answer (`#/components/responses/UriTooLong`).
pub(crate) struct UriTooLong;

/// Reusable 501 answer (`#/components/responses/NotImplemented`).
pub(crate) struct NotImplemented;

/// A header that is always sent. utoipa's `Header` has no `required` field,
/// so it is written through the (flattened) extensions map.
fn required_header(schema: ObjectBuilder, description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .extensions(Some(Extensions::from_iter([("required", true)])))
        .build()
}

fn error_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
        .build()
}

impl<'r> ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description("The server requires a bearer token and it is missing or wrong.")
            .header(
                "WWW-Authenticate",
                required_header(
                    ObjectBuilder::new().schema_type(Type::String),
                    "The authentication scheme the server expects.",
                ),
            )
            .content("application/json", error_content())
            .build();
        ("Unauthorized", response.into())
    }
}

impl<'r> ToResponse<'r> for Forbidden {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description("The token is valid but lacks the operation's scope; nothing was applied.")
            .header(
                "WWW-Authenticate",
                required_header(
                    ObjectBuilder::new().schema_type(Type::String),
                    "The scope the operation needs, as RFC 6750's `insufficient_scope`.",
                ),
            )
            .content("application/json", error_content())
            .build();
        ("Forbidden", response.into())
    }
}

impl<'r> ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description("Too many requests; wait for `Retry-After` seconds.")
            .header(
                "Retry-After",
                required_header(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                    "Seconds to wait before sending another request.",
                ),
            )
            .content("application/json", error_content())
            .build();
        ("TooManyRequests", response.into())
    }
}

impl<'r> ToResponse<'r> for UriTooLong {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description(
                "The request target is longer than 65,534 bytes; the connection is closed.",
            )
            .content("application/json", error_content())
            .build();
        ("UriTooLong", response.into())
    }
}

impl<'r> ToResponse<'r> for NotImplemented {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description(
                "The request uses a transfer coding other than `chunked`; the connection is closed.",
            )
            .content("application/json", error_content())
            .build();
        ("NotImplemented", response.into())
    }
}

/// One event of a job's stream (`#/components/schemas/JobStreamEvent`), as
/// an SSE parser reads it: the `job` event (data: `JobStatusResponse` as
/// JSON text) or the `end` event (data: `JobStreamEnd`). OpenAPI 3.1 has no
/// `itemSchema`; tools read an event stream's `schema` as each event's.
pub(crate) struct JobStreamEvent;

/// One kind of event: its name, its `data`'s schema, and whether it may
/// set `retry`.
fn stream_event(name: &str, data: &str, description: &str, retry: bool) -> Schema {
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    let mut event = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .property(
            "id",
            text("The job's `ETag` value (without `W/` and quotes)."),
        )
        .property(
            "data",
            text("The event's data, JSON text.")
                .content_media_type("application/json")
                .content_schema(Some(utoipa::openapi::Ref::from_schema_name(data))),
        )
        .required("event")
        .required("id")
        .required("data");
    if retry {
        event = event.property(
            "retry",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some("Milliseconds a client waits before reconnecting.")),
        );
    }
    Schema::Object(event.build())
}

impl utoipa::PartialSchema for JobStreamEvent {
    fn schema() -> RefOr<Schema> {
        let one_of = OneOfBuilder::new()
            .item(stream_event(
                "job",
                "JobStatusResponse",
                "The job now, after a change (or as the stream starts).",
                true,
            ))
            .item(stream_event(
                "end",
                "JobStreamEnd",
                "The job will not change any more; the server closes the stream.",
                false,
            ))
            .description(Some(
                "One event of a job's stream, as an SSE parser reads it.",
            ));
        Schema::OneOf(one_of.build()).into()
    }
}

impl utoipa::ToSchema for JobStreamEvent {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("JobStreamEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        use utoipa::PartialSchema as _;
        schemas.push((
            "JobStatusResponse".into(),
            jobs_sdk::JobStatusResponse::schema(),
        ));
        <jobs_sdk::JobStatusResponse as utoipa::ToSchema>::schemas(schemas);
        schemas.push(("JobStreamEnd".into(), jobs_sdk::JobStreamEnd::schema()));
        <jobs_sdk::JobStreamEnd as utoipa::ToSchema>::schemas(schemas);
    }
}

/// Adds the optional bearer authentication scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The parts of the document that do not come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Job Status API", version = "0.1.0",
        description = "Read a queued job's status and pause, resume or cancel it."),
    components(schemas(ErrorBody), responses(Unauthorized, Forbidden, TooManyRequests, UriTooLong, NotImplemented)),
    tags((name = "jobs", description = "Read and manage one job of the queue by its ID.")),
    security((), ("bearerAuth" = [])),
    modifiers(&BearerAuth),
)]
pub(crate) struct BaseDoc;

/// Sets the pattern of every `jobId` path parameter to the contract's
/// ([`jobs_sdk::contract::JOB_ID_PATTERN`]): utoipa's `pattern = …` takes
/// only a literal, and the pattern must be written once, not per operation.
pub(crate) fn with_job_id_pattern(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::Schema;

    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && parameter.name == "jobId"
                    && parameter.parameter_in == ParameterIn::Path
                    && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
                {
                    schema.pattern = Some(jobs_sdk::contract::JOB_ID_PATTERN.to_owned());
                }
            }
        }
    }
    doc
}
