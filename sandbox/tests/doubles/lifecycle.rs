//! Starting and stopping: in-process, and as the `millwright-sandbox` binary.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use sandbox::{Sandbox, SandboxConfig, demo};
use serde_json::Value;

use crate::support::{self, body};

#[tokio::test]
async fn starts_on_distinct_loopback_ports_and_stops_on_shutdown() {
    // GIVEN a sandbox on port 0 everywhere
    let world = support::start().await;
    let urls = [&world.sandbox.bigcommerce_url, &world.sandbox.plex_url, &world.sandbox.monday_url];
    for url in urls {
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with('/'), "{url}");
    }
    assert_ne!(urls[0], urls[1]);
    assert_ne!(urls[1], urls[2]);
    let plex_url = world.sandbox.plex_url.clone();
    assert_eq!(world.plex_get("/mdm/v1/tenants").await.status(), StatusCode::OK);

    // WHEN it shuts down
    world.sandbox.shutdown().await;

    // THEN its ports no longer answer
    let after = reqwest::Client::new().get(format!("{plex_url}/mdm/v1/tenants")).send().await;
    assert!(after.is_err(), "the Plex double still answers after shutdown");
}

#[tokio::test]
async fn listens_on_the_ports_it_is_given() {
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (bigcommerce_port, plex_port, monday_port) = (free_port(), free_port(), free_port());
    let sandbox =
        Sandbox::start(SandboxConfig { bigcommerce_port, plex_port, monday_port, ..SandboxConfig::default() })
            .await
            .unwrap();
    assert_eq!(sandbox.bigcommerce_url, format!("http://127.0.0.1:{bigcommerce_port}"));
    assert_eq!(sandbox.plex_url, format!("http://127.0.0.1:{plex_port}"));
    assert_eq!(sandbox.monday_url, format!("http://127.0.0.1:{monday_port}"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn time_scale_shrinks_the_default_windows_and_no_seed_means_no_credentials() {
    let world = support::start_with(SandboxConfig { time_scale: 0.001, ..SandboxConfig::default() }).await;
    let (_, bigcommerce) = world.control(&world.sandbox.bigcommerce_url, Method::GET, "/config", None).await;
    assert_eq!(bigcommerce["rate_limit"]["window_ms"], 30);
    let (_, plex) = world.control(&world.sandbox.plex_url, Method::GET, "/config", None).await;
    assert_eq!(plex["rate_limit"]["window_ms"], 60);
    assert_eq!(plex["auth"]["token_ttl_ms"], 3_600);
    let (_, monday) = world.control(&world.sandbox.monday_url, Method::GET, "/config", None).await;
    assert_eq!(monday["complexity_window_ms"], 60);
    // Without the demo seed the demo key opens nothing.
    assert_eq!(world.plex_get("/mdm/v1/tenants").await.status(), StatusCode::UNAUTHORIZED);
    assert!(Sandbox::start(SandboxConfig { time_scale: 0.0, ..SandboxConfig::default() }).await.is_err());
}

#[tokio::test]
async fn the_binary_writes_its_ready_file_serves_the_demo_and_exits_cleanly_on_sigterm() {
    // GIVEN the binary started in the background with a ready file
    let directory = std::env::temp_dir().join(format!("sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ready_file = directory.join("ready.json");
    let _ = std::fs::remove_file(&ready_file);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_millwright-sandbox"))
        .arg("--seed-demo")
        .arg("--ready-file")
        .arg(&ready_file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // WHEN the ready file appears
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready_file.exists() {
        assert!(Instant::now() < deadline, "no ready file within 20 s");
        assert!(child.try_wait().unwrap().is_none(), "the sandbox exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready: Value = serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();

    // THEN it names the running process and its doubles answer with the demo credentials
    assert_eq!(ready["pid"], child.id());
    let store =
        format!("{}/stores/{}/v2/store", ready["bigcommerce_url"].as_str().unwrap(), demo::BIGCOMMERCE_STORE_HASH);
    let response =
        reqwest::Client::new().get(store).header("X-Auth-Token", demo::BIGCOMMERCE_ACCESS_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["id"], demo::BIGCOMMERCE_STORE_HASH);
    for key in ["plex_url", "monday_url"] {
        assert!(ready[key].as_str().unwrap().starts_with("http://127.0.0.1:"), "{ready}");
    }

    // AND SIGTERM stops it with status 0 and removes the ready file
    let killed = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the sandbox did not stop within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert!(!ready_file.exists());
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn shutdown_does_not_wait_out_a_pending_delay_fault() {
    // GIVEN a request held by a 30 s delay fault
    let world = support::start().await;
    world.fault(&world.sandbox.plex_url, serde_json::json!({"fault": {"kind": "delay", "ms": 30_000}})).await;
    let held = tokio::spawn(world.http.get(world.plex("/mdm/v1/tenants")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;

    // WHEN the sandbox shuts down
    let started = Instant::now();
    world.sandbox.shutdown().await;

    // THEN it stops promptly, and the held request was let go rather than left hanging
    assert!(started.elapsed() < Duration::from_secs(3), "shutdown took {:?}", started.elapsed());
    let _ = tokio::time::timeout(Duration::from_secs(3), held).await.expect("the held request ended");
}
