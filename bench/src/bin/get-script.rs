//! Prints the Lua source of jobs-server's GET script, exactly as its store
//! loads it, for `scripts/bench.sh` to run with `redis-benchmark` (the Redis
//! work of one GET alone: the limit jobs-server is measured against).

fn main() {
    print!("{}", jobs_server::get_job_script());
}
