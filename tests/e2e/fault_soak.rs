//! The small fault soak of `make test` (`millwright_e2e::soak`): a seeded run of a few dozen
//! orders under a mix of faults on both APIs, held against every goal of the soak. A miss prints
//! the table, the orders behind it and the command that reruns the seed (`SOAK_SEED` picks
//! another seed; the default is fixed so that `make test` is reproducible).

use millwright_e2e::soak::{self, SoakPlan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_fault_soak_ends_with_every_order_exactly_right_without_an_operator() {
    // GIVEN the deployment's logs watched for secrets, and a seeded plan of 36 orders with
    // duplicate and same-second deliveries, updates, replays and faults on both APIs
    assert!(soak::watch_logs(), "another tracing subscriber is installed, so the logs cannot be checked");
    let seed = soak::seed_from_env().unwrap_or(soak::DEFAULT_SEED);
    let plan = SoakPlan::small(seed);

    // WHEN it runs to the end and the queue drains
    let report = soak::run(&plan).await;
    println!("{}", report.render());

    // THEN every record ends right: every order exactly one Plex sales order with the latest
    // content, nothing for an operator, nothing dead-lettered, no secret anywhere; and it cost
    // what it should: no operator alert, at most 1.1 BigCommerce reads per order change or replay
    // beyond the reads a fault refused
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "the fault soak with seed {seed} missed {} goal(s):\n  {}\n\n{}\nrerun: {}",
        failures.len(),
        failures.join("\n  "),
        report.render(),
        report.rerun()
    );
}
