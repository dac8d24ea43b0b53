// An unknown enum value is opaque: no pattern can name its raw string (a later
// SDK version that knows the value would silently stop matching it), and it
// cannot be forged.
use jobs_sdk::{JobState, UnknownVariantValue};

fn main() {
    let state = JobState::from("delayed");
    match state {
        JobState::Unknown("delayed") => {}
        _ => {}
    }
    let _ = JobState::Unknown(UnknownVariantValue("delayed".to_owned()));
}
