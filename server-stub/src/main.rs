//! `jobs-server-stub` binary.

fn main() {
    println!("jobs-server-stub: not implemented yet");
}
