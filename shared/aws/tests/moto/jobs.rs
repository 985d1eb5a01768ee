//! `DynamoJobLeases` and `SqsJobQueue` against moto: a job's lease taken by one conditional write
//! (one winner of a race, refused while held, refused once a later-started job finished, free once
//! it ran out), and job messages sent in batches onto a standard queue with the template's redrive.

use std::collections::BTreeSet;

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Duration, Utc};
use domain::job::{JobLeaseState, JobMessage, LeaseRefusal};
use domain::ports::{JobLeases, JobQueue};
use millwright_aws::{DynamoJobLeases, SqsJobQueue};

use crate::support::{RaceGate, Stack, acme, at};

const JOB: &str = "webhook-health";

fn now() -> DateTime<Utc> {
    at("2026-11-24T10:00:00.123456789Z")
}

#[tokio::test]
async fn a_lease_is_refused_while_held_taken_once_it_ran_out_and_covers_runs_asked_for_before_it_started() {
    let stack = Stack::new().await;
    let leases = DynamoJobLeases::new(&stack.sdk, &stack.provisioned.state_table);
    let until = now() + Duration::seconds(70);

    // A first job takes it; a second is refused while it is held, naming the holder and the end
    leases.take(&acme(), JOB, "invocation-1", now(), now(), until).await.unwrap().unwrap();
    let refused = leases.take(&acme(), JOB, "invocation-2", now(), now() + Duration::seconds(1), until).await.unwrap();
    assert_eq!(refused, Err(LeaseRefusal::Held { holder: "invocation-1".into(), until }));
    // Another job of the same connection, or the same job of another connection, is independent
    leases.take(&acme(), "order-sweep", "invocation-2", now(), now(), until).await.unwrap().unwrap();

    // The first finishes: a run asked for before it started is covered, a later one is not
    leases.finish(&acme(), JOB, "invocation-1", now()).await.unwrap();
    let covered = leases.take(&acme(), JOB, "invocation-3", now() - Duration::seconds(1), now(), until).await.unwrap();
    assert_eq!(covered, Err(LeaseRefusal::Covered { through: now() }));
    let later = now() + Duration::nanoseconds(1);
    leases.take(&acme(), JOB, "invocation-4", later, later, until).await.unwrap().unwrap();

    // A holder that crashed: its lease is free once its time is up, and its late release or finish
    // changes nothing for the new holder
    let after = until + Duration::nanoseconds(1);
    leases.take(&acme(), JOB, "invocation-5", after, after, after + Duration::seconds(70)).await.unwrap().unwrap();
    leases.release(&acme(), JOB, "invocation-4").await.unwrap();
    leases.finish(&acme(), JOB, "invocation-4", later).await.unwrap();
    let refused = leases.take(&acme(), JOB, "invocation-6", after, after, after).await.unwrap();
    assert!(matches!(refused, Err(LeaseRefusal::Held { ref holder, .. }) if holder == "invocation-5"), "{refused:?}");

    // Released without finishing: free, and nothing newly covered
    leases.release(&acme(), JOB, "invocation-5").await.unwrap();
    leases.take(&acme(), JOB, "invocation-7", after, after, after).await.unwrap().unwrap();
}

#[tokio::test]
async fn of_two_racing_takers_of_one_lease_exactly_one_wins() {
    let stack = Stack::new().await;
    for round in 0..5 {
        let gate = RaceGate::new(2);
        let first = DynamoJobLeases::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let second = DynamoJobLeases::new(&gate.sdk(&stack.sdk), &stack.provisioned.state_table);
        let job = format!("race-{round}");
        let until = now() + Duration::seconds(70);
        let connection = acme();

        let (a, b) = tokio::join!(
            first.take(&connection, &job, "invocation-a", now(), now(), until),
            second.take(&connection, &job, "invocation-b", now(), now(), until),
        );

        let won = [a.unwrap().is_ok(), b.unwrap().is_ok()];
        assert_eq!(won.iter().filter(|won| **won).count(), 1, "round {round}: {won:?}");
    }
}

#[test]
fn the_adapters_condition_and_the_domain_rule_agree_on_the_edges() {
    // The condition says `held_until <= now` is free and `covered_through < requested` may run;
    // JobLeaseState::refusal is the same rule, which the in-memory fake follows.
    let state = JobLeaseState { holder: Some("x".into()), held_until: Some(now()), covered_through: Some(now()) };
    assert_eq!(state.refusal(now() + Duration::nanoseconds(1), now()), None);
    assert!(matches!(state.refusal(now(), now()), Some(LeaseRefusal::Covered { .. })));
}

#[tokio::test]
async fn job_messages_are_sent_in_batches_of_ten_onto_the_functions_standard_queue() {
    // GIVEN a stack's job queue for the webhook health check
    let stack = Stack::new().await;
    let url = stack.provisioned.job_queue_url(JOB).expect("the stack has the health check's job queue").to_owned();
    let attributes = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert!(!attributes.contains_key(&QueueAttributeName::FifoQueue), "a standard queue: jobs need no order");
    let redrive: serde_json::Value = serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "3");
    assert!(redrive["deadLetterTargetArn"].as_str().unwrap().ends_with(&stack.names.jobs_dlq));

    // WHEN 23 connections' jobs are sent
    let messages: Vec<JobMessage> = (0..23)
        .map(|n| JobMessage {
            connection: domain::ConnectionId::new(format!("store-{n}")).unwrap(),
            job: JOB.into(),
            run: "run-1".into(),
            requested_at: now(),
        })
        .collect();
    SqsJobQueue::new(&stack.sdk, &url).send(&messages).await.unwrap();

    // THEN every one is on the queue, once
    let mut received = BTreeSet::new();
    for _ in 0..20 {
        let output = stack.sqs().receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
        for message in output.messages.unwrap_or_default() {
            let job: JobMessage = serde_json::from_str(message.body().unwrap()).unwrap();
            assert!(received.insert(job.connection.to_string()), "{job:?} twice");
        }
        if received.len() == messages.len() {
            break;
        }
    }
    assert_eq!(received.len(), 23);
}
