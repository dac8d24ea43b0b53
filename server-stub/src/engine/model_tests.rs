//! Model-based test: random sequences of management actions (get, pause,
//! resume, cancel, delete) and worker events (claim, claim next, progress,
//! complete, fail, stall, clock advance + tick) run against the engine and
//! against a small reference model written from the seed's state table. After
//! every step the two must agree on the answer, every job's state, the
//! `queueStats` counters (which must also equal a full recount), the audit
//! record written and which ETags moved.
//!
//! Cases: `MODEL_CASES` (default 10 000 in CI); the long run is documented in
//! `server-stub/README.md`. A mutant model (resume goes to `active`) checks
//! that a divergence is found and shrunk to a minimal sequence.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jobs_sdk::{JobAction, JobState};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

use super::status::Status;
use super::*;
use crate::ManualClock;

/// Jobs that exist at the start; `ghost` never does.
const IDS: [&str; 5] = ["a", "b", "c", "d", "ghost"];
const STALL_SECS: u64 = 30;

fn cases() -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A job as the model sees it.
#[derive(Debug, Clone, PartialEq)]
struct ModelJob {
    status: Status,
    attempts: u32,
    max_attempts: u32,
    /// Seconds since start of the last report while active.
    heartbeat: u64,
}

/// What an operation should answer, comparable across model and engine.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    None,
    Got(Option<JobState>),
    /// A management action or DELETE: applied (`from` → `to`) or refused
    /// with the reason the client and the audit log get.
    Applied(JobState, JobState),
    Refused(String),
    /// A worker event: the state after, or why it was refused.
    Worker(Result<Option<JobState>, &'static str>),
    ClaimedNext(Option<String>),
    Stuck(Vec<String>),
}

#[derive(Debug, Clone)]
struct Model {
    jobs: BTreeMap<String, ModelJob>,
    /// FIFO of waiting jobs, oldest first.
    waiting: Vec<String>,
    now: u64,
    expected: Outcome,
    /// Jobs whose ETag must have moved in the last step.
    changed: Vec<String>,
    /// Mutant: `resume` goes to `active` (shrinking test only).
    mutant: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Get(usize),
    Act(usize, JobAction),
    Delete(usize),
    Claim(usize),
    ClaimNext,
    Progress(usize, f64),
    Complete(usize),
    Fail(usize),
    Stall(usize),
    /// Move the clock this many seconds, then tick.
    Advance(u64),
}

fn stored_status() -> impl Strategy<Value = Status> {
    proptest::sample::select(Status::ALL.to_vec())
}

fn action() -> impl Strategy<Value = JobAction> {
    prop_oneof![
        Just(JobAction::Pause),
        Just(JobAction::Resume),
        Just(JobAction::Cancel)
    ]
}

/// The seed's refusal wording (docs/contract-decisions.md), written again
/// here from the table rather than shared with the engine.
fn refusal(action: &str, status: Status) -> String {
    let target = match action {
        "pause" => Some(Status::Paused),
        "resume" => Some(Status::Waiting),
        _ => None,
    };
    let state = status.to_wire();
    if matches!(status, Status::Completed | Status::Failed) || target == Some(status) {
        format!("Job is already {state}")
    } else {
        format!("Cannot {action} a job that is {state}")
    }
}

impl Model {
    fn set(&mut self, id: &str, status: Status) {
        if let Some(job) = self.jobs.get_mut(id) {
            if job.status == Status::Waiting {
                self.waiting.retain(|w| w != id);
            }
            job.status = status;
            if status == Status::Waiting {
                self.waiting.push(id.to_owned());
            }
            self.changed.push(id.to_owned());
        }
    }

    fn remove(&mut self, id: &str) {
        self.waiting.retain(|w| w != id);
        self.jobs.remove(id);
    }

    fn claim(&mut self, id: &str) {
        let now = self.now;
        self.set(id, Status::Active);
        if let Some(job) = self.jobs.get_mut(id) {
            job.attempts += 1;
            job.heartbeat = now;
        }
    }

    /// The seed's table: pause from waiting/active, resume from paused,
    /// cancel (PUT or DELETE) from waiting/active/paused.
    fn act(&mut self, id: &str, action: &str) -> Outcome {
        let Some(from) = self.jobs.get(id).map(|j| j.status) else {
            return Outcome::Refused("Job not found".into());
        };
        use Status::*;
        match (action, from) {
            ("pause", Waiting | Active) => self.set(id, Paused),
            ("resume", Paused) if self.mutant => self.claim(id),
            ("resume", Paused) => self.set(id, Waiting),
            ("cancel" | "delete", Waiting | Active | Paused) => {
                self.remove(id);
                return Outcome::Applied(from.to_wire(), JobState::Cancelled);
            }
            _ => {
                let action = if action == "delete" { "cancel" } else { action };
                return Outcome::Refused(refusal(action, from));
            }
        }
        Outcome::Applied(from.to_wire(), self.jobs[id].status.to_wire())
    }

    /// A worker event that needs the job `active` (or `waiting` for claim).
    fn worker(&mut self, id: &str, needs: Status, event: impl FnOnce(&mut Self)) -> Outcome {
        match self.jobs.get(id).map(|j| j.status) {
            None => Outcome::Worker(Err("not found")),
            Some(status) if status != needs => Outcome::Worker(Err("wrong state")),
            Some(_) => {
                event(self);
                Outcome::Worker(Ok(self.jobs.get(id).map(|j| j.status.to_wire())))
            }
        }
    }

    fn step(mut self, op: &Op) -> Self {
        self.changed.clear();
        self.expected = match op {
            Op::Get(i) => Outcome::Got(self.jobs.get(IDS[*i]).map(|j| j.status.to_wire())),
            Op::Act(i, action) => self.act(IDS[*i], action.as_str()),
            Op::Delete(i) => self.act(IDS[*i], "delete"),
            Op::Claim(i) => self.worker(IDS[*i], Status::Waiting, |m| m.claim(IDS[*i])),
            Op::ClaimNext => {
                let next = self.waiting.first().cloned();
                if let Some(id) = &next {
                    self.claim(id);
                }
                Outcome::ClaimedNext(next)
            }
            Op::Progress(_, p) if !(0.0..=100.0).contains(p) => {
                Outcome::Worker(Err("invalid progress"))
            }
            Op::Progress(i, _) => self.worker(IDS[*i], Status::Active, |m| {
                let now = m.now;
                if let Some(job) = m.jobs.get_mut(IDS[*i]) {
                    job.heartbeat = now;
                }
                m.changed.push(IDS[*i].to_owned());
            }),
            Op::Complete(i) => self.worker(IDS[*i], Status::Active, |m| {
                m.set(IDS[*i], Status::Completed)
            }),
            Op::Fail(i) => self.worker(IDS[*i], Status::Active, |m| {
                let job = &m.jobs[IDS[*i]];
                let next = if job.attempts < job.max_attempts {
                    Status::Waiting
                } else {
                    Status::Failed
                };
                m.set(IDS[*i], next);
            }),
            // Silent worker: nothing visible changes.
            Op::Stall(i) => self.worker(IDS[*i], Status::Active, |_| {}),
            Op::Advance(secs) => {
                self.now += secs;
                let now = self.now;
                let stuck: Vec<String> = self
                    .jobs
                    .iter()
                    .filter(|(_, j)| j.status == Status::Active && j.heartbeat + STALL_SECS <= now)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in &stuck {
                    self.set(id, Status::Stuck);
                }
                Outcome::Stuck(stuck)
            }
        };
        self
    }

    fn counts(&self, status: Status) -> u64 {
        self.jobs.values().filter(|j| j.status == status).count() as u64
    }
}

fn ops() -> BoxedStrategy<Op> {
    let id = 0..IDS.len();
    let progress = prop_oneof![
        8 => (0u8..=100).prop_map(f64::from),
        1 => Just(-1.0),
        1 => Just(100.5),
        1 => Just(f64::NAN),
    ];
    prop_oneof![
        2 => id.clone().prop_map(Op::Get),
        6 => (id.clone(), action()).prop_map(|(i, a)| Op::Act(i, a)),
        2 => id.clone().prop_map(Op::Delete),
        3 => id.clone().prop_map(Op::Claim),
        2 => Just(Op::ClaimNext),
        3 => (id.clone(), progress).prop_map(|(i, p)| Op::Progress(i, p)),
        2 => id.clone().prop_map(Op::Complete),
        3 => id.clone().prop_map(Op::Fail),
        1 => id.clone().prop_map(Op::Stall),
        3 => (0u64..=40).prop_map(Op::Advance),
    ]
    .boxed()
}

fn initial(mutant: bool) -> BoxedStrategy<Model> {
    proptest::collection::vec((stored_status(), 0u32..=2, 1u32..=3), 4)
        .prop_map(move |specs| {
            let mut model = Model {
                jobs: BTreeMap::new(),
                waiting: Vec::new(),
                now: 0,
                expected: Outcome::None,
                changed: Vec::new(),
                mutant,
            };
            for (id, (status, attempts, max_attempts)) in IDS.iter().zip(specs) {
                // The builder gives a job that has run at least one attempt.
                let ran = !matches!(status, Status::Waiting | Status::Paused);
                let attempts = if ran { attempts.max(1) } else { attempts };
                model.jobs.insert(
                    (*id).to_owned(),
                    ModelJob {
                        status,
                        attempts,
                        max_attempts,
                        heartbeat: 0,
                    },
                );
                if status == Status::Waiting {
                    model.waiting.push((*id).to_owned());
                }
            }
            model
        })
        .boxed()
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        initial(false)
    }

    fn transitions(_: &Model) -> BoxedStrategy<Op> {
        ops()
    }

    fn apply(state: Model, op: &Op) -> Model {
        state.step(op)
    }
}

/// The same model with a deliberate bug, to prove divergences are caught
/// and shrunk.
struct MutantReference;

impl ReferenceStateMachine for MutantReference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        initial(true)
    }

    fn transitions(_: &Model) -> BoxedStrategy<Op> {
        ops()
    }

    fn apply(state: Model, op: &Op) -> Model {
        state.step(op)
    }
}

/// The engine under test, its clock and what it looked like before a step.
struct Sut {
    engine: Engine,
    clock: ManualClock,
    etags: HashMap<String, String>,
    audit_len: usize,
}

fn init_sut(model: &Model) -> Sut {
    let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("valid time"));
    let config = EngineConfig {
        stall_timeout: Duration::from_secs(STALL_SECS),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(Arc::new(clock.clone()), config);
    for (id, job) in &model.jobs {
        engine
            .insert(
                JobBuilder::new(id.as_str())
                    .status(job.status.to_wire())
                    .attempts_made(job.attempts)
                    .max_attempts(job.max_attempts),
            )
            .expect("insert");
    }
    let etags = etags(&engine);
    Sut {
        engine,
        clock,
        etags,
        audit_len: 0,
    }
}

fn etags(engine: &Engine) -> HashMap<String, String> {
    IDS.iter()
        .filter_map(|id| engine.etag(id).map(|tag| ((*id).to_owned(), tag)))
        .collect()
}

fn worker_outcome(engine: &Engine, id: &str, result: Result<(), WorkerError>) -> Outcome {
    Outcome::Worker(match result {
        Ok(()) => Ok(engine.job(id).map(|j| j.status.clone())),
        Err(WorkerError::NotFound(_)) => Err("not found"),
        Err(WorkerError::WrongState { .. }) => Err("wrong state"),
        Err(WorkerError::InvalidProgress(_)) => Err("invalid progress"),
    })
}

fn run_step(mut sut: Sut, model: &Model, op: Op) -> Sut {
    let engine = &mut sut.engine;
    let got = match &op {
        Op::Get(i) => {
            let snapshot = engine.get(IDS[*i]);
            if let Some(s) = &snapshot {
                assert_eq!(s.queue_stats, engine.queue_stats(), "one snapshot");
                assert!(s.etag.starts_with("W/\""), "weak ETag {}", s.etag);
            }
            Outcome::Got(snapshot.map(|s| s.job.status))
        }
        Op::Act(i, action) => match engine.apply(IDS[*i], *action) {
            Ok(updated) => {
                let from = sut
                    .engine
                    .audit_log(0)
                    .last()
                    .and_then(|e| match &e.outcome {
                        AuditOutcome::Applied { from, .. } => Some(from.clone()),
                        _ => None,
                    })
                    .expect("an applied action is audited as applied");
                Outcome::Applied(from, updated.status)
            }
            Err(ActionError::NotFound) => Outcome::Refused("Job not found".into()),
            Err(ActionError::NotAllowed { details, .. }) => Outcome::Refused(details),
        },
        Op::Delete(i) => match engine.delete(IDS[*i]) {
            Ok(_) => {
                let last = engine.audit_log(0).last().cloned().expect("audited");
                match last.outcome {
                    AuditOutcome::Applied { from, to } => Outcome::Applied(from, to),
                    other => panic!("applied but audited {other:?}"),
                }
            }
            Err(DeleteError::NotFound) => Outcome::Refused("Job not found".into()),
            Err(DeleteError::NotCancellable { details, .. }) => Outcome::Refused(details),
        },
        Op::Claim(i) => {
            let result = engine.claim(IDS[*i], "w").map(drop);
            worker_outcome(engine, IDS[*i], result)
        }
        Op::ClaimNext => Outcome::ClaimedNext(engine.claim_next("w").map(|j| j.id)),
        Op::Progress(i, p) => {
            let result = engine.report_progress(IDS[*i], *p).map(drop);
            worker_outcome(engine, IDS[*i], result)
        }
        Op::Complete(i) => {
            let result = engine.complete(IDS[*i], None).map(drop);
            worker_outcome(engine, IDS[*i], result)
        }
        Op::Fail(i) => {
            let result = engine.fail(IDS[*i], "boom").map(drop);
            worker_outcome(engine, IDS[*i], result)
        }
        Op::Stall(i) => {
            let result = engine.stall(IDS[*i]);
            worker_outcome(engine, IDS[*i], result)
        }
        Op::Advance(secs) => {
            sut.clock.advance(Duration::from_secs(*secs));
            let mut stuck = engine.tick().stuck;
            stuck.sort();
            Outcome::Stuck(stuck)
        }
    };
    assert_eq!(got, model.expected, "answer to {op:?}");

    // Exactly one audit record per management action, applied or refused.
    let audit = sut.engine.audit_log(0);
    let audited = matches!(op, Op::Act(..) | Op::Delete(_));
    assert_eq!(
        audit.len(),
        sut.audit_len + usize::from(audited),
        "audit records after {op:?}"
    );
    if audited {
        let entry = audit.last().expect("one record");
        let (id, operation) = match &op {
            Op::Act(i, JobAction::Pause) => (IDS[*i], AuditOperation::Pause),
            Op::Act(i, JobAction::Resume) => (IDS[*i], AuditOperation::Resume),
            Op::Act(i, JobAction::Cancel) => (IDS[*i], AuditOperation::Cancel),
            Op::Delete(i) => (IDS[*i], AuditOperation::Delete),
            _ => unreachable!(),
        };
        assert_eq!((entry.job_id.as_str(), entry.operation), (id, operation));
        let outcome = match &model.expected {
            Outcome::Applied(from, to) => AuditOutcome::Applied {
                from: from.clone(),
                to: to.clone(),
            },
            Outcome::Refused(reason) => AuditOutcome::Rejected {
                reason: reason.clone(),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(entry.outcome, outcome);
        assert_eq!(entry.at, sut.engine.now());
    }
    sut.audit_len = audit.len();

    // ETags move exactly for the jobs that changed.
    let now = etags(&sut.engine);
    for (id, tag) in &now {
        let moved = sut.etags.get(id) != Some(tag);
        let changed = model.changed.contains(id);
        assert_eq!(moved, changed, "ETag of {id} after {op:?}");
    }
    sut.etags = now;
    sut
}

fn check_invariants(sut: &Sut, model: &Model) {
    let engine = &sut.engine;
    for id in IDS {
        assert_eq!(
            engine.job(id).map(|j| j.status.clone()),
            model.jobs.get(id).map(|j| j.status.to_wire()),
            "state of {id}"
        );
        if let (Some(job), Some(m)) = (engine.job(id), model.jobs.get(id)) {
            assert_eq!(job.attempts_made, m.attempts, "attempts of {id}");
        }
    }
    assert_eq!(engine.len(), model.jobs.len());
    // The incremental counters equal a recount of the jobs, and the model.
    assert_eq!(engine.counts, engine.recount(), "counters drifted");
    let stats = engine.queue_stats();
    assert_eq!(
        (stats.waiting, stats.active, stats.completed, stats.failed),
        (
            model.counts(Status::Waiting),
            model.counts(Status::Active),
            model.counts(Status::Completed),
            model.counts(Status::Failed)
        ),
        "queueStats"
    );
    assert_eq!(
        engine.count(&JobState::Paused),
        model.counts(Status::Paused)
    );
    assert_eq!(engine.count(&JobState::Stuck), model.counts(Status::Stuck));
}

struct EngineTest;

impl StateMachineTest for EngineTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(model: &Model) -> Sut {
        init_sut(model)
    }

    fn apply(sut: Sut, model: &Model, op: Op) -> Sut {
        run_step(sut, model, op)
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        check_invariants(sut, model);
    }
}

struct MutantTest;

impl StateMachineTest for MutantTest {
    type SystemUnderTest = Sut;
    type Reference = MutantReference;

    fn init_test(model: &Model) -> Sut {
        init_sut(model)
    }

    fn apply(sut: Sut, model: &Model, op: Op) -> Sut {
        run_step(sut, model, op)
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        check_invariants(sut, model);
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: cases(),
        // Sequences are generated by the model; nothing is rejected.
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn engine_matches_the_seeds_state_table(sequential 1..40 => EngineTest);
}

/// A divergence is found and shrunk to the shortest sequence that shows it:
/// one resume of a job that is paused from the start, or a pause then a
/// resume.
#[test]
fn a_divergence_shrinks_to_a_minimal_sequence() {
    let config = Config {
        cases: 1_000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(
        &MutantReference::sequential_strategy(1..40),
        |(init, ops, seen)| {
            MutantTest::test_sequential(config.clone(), init, ops, seen);
            Ok(())
        },
    );
    let Err(TestError::Fail(_, (init, ops, _))) = result else {
        panic!("the mutant model was not caught: {result:?}");
    };
    let resumes = ops
        .iter()
        .filter(|op| matches!(op, Op::Act(_, JobAction::Resume)))
        .count();
    assert!(ops.len() <= 2 && resumes == 1, "not minimal: {ops:?}");
    if ops.len() == 1 {
        let Op::Act(i, _) = ops[0] else {
            unreachable!()
        };
        assert_eq!(init.jobs[IDS[i]].status, Status::Paused, "{init:?}");
    }
}
