// Exhaustive destructuring would break when a field is added; `..` is required.
use jobs_sdk::QueueStats;

fn main() {
    let QueueStats { waiting, active, completed, failed } = QueueStats::new(1, 2, 3, 4);
    let _ = (waiting, active, completed, failed);
}
