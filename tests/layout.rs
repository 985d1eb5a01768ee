//! The workspace's layout rules, checked from `cargo metadata` (the manifests as declared):
//! - no function crate (`functions/*`) depends on another one: what two functions share lives in
//!   a library crate under `shared/` (a test may still run one function against another);
//! - no Lambda function carries a test double: neither the sandbox nor the ports' in-memory fakes
//!   (`domain`'s `fakes` feature) is reachable from a function through normal dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// A workspace crate as its manifest declares it.
struct Crate {
    manifest_path: String,
    /// `(name, features)` of each normal dependency (not dev, not build).
    normal: Vec<(String, Vec<String>)>,
}

fn workspace() -> BTreeMap<String, Crate> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|package| {
            let normal = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dependency| dependency["kind"].is_null())
                .map(|dependency| {
                    let features = dependency["features"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|feature| feature.as_str().map(str::to_owned))
                        .collect();
                    (dependency["name"].as_str().unwrap_or_default().to_owned(), features)
                })
                .collect();
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            (name, Crate { manifest_path: package["manifest_path"].as_str().unwrap_or_default().to_owned(), normal })
        })
        .collect()
}

fn is_function(krate: &Crate) -> bool {
    krate.manifest_path.replace('\\', "/").contains("/functions/")
}

/// Every workspace crate `name` reaches through normal dependencies, itself included, with the
/// features asked of each on the way.
fn reachable<'w>(workspace: &'w BTreeMap<String, Crate>, name: &str) -> BTreeMap<&'w str, BTreeSet<String>> {
    let mut reached: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut next: Vec<(&str, Vec<String>)> =
        vec![(workspace.get_key_value(name).expect("a workspace crate").0, vec![])];
    while let Some((crate_name, features)) = next.pop() {
        let first_visit = !reached.contains_key(crate_name);
        reached.entry(crate_name).or_default().extend(features);
        if !first_visit {
            continue;
        }
        for (dependency, features) in &workspace[crate_name].normal {
            if let Some((dependency, _)) = workspace.get_key_value(dependency.as_str()) {
                next.push((dependency, features.clone()));
            }
        }
    }
    reached
}

#[test]
fn no_function_crate_depends_on_another() {
    let workspace = workspace();
    let functions: Vec<&String> =
        workspace.iter().filter(|(_, krate)| is_function(krate)).map(|(name, _)| name).collect();
    assert!(functions.len() >= 4, "the function crates are found: {functions:?}");
    let mut wrong = Vec::new();
    for function in &functions {
        for (dependency, _) in &workspace[*function].normal {
            if functions.contains(&dependency) {
                wrong.push(format!("{function} depends on {dependency}"));
            }
        }
    }
    assert!(wrong.is_empty(), "move what they share into a crate under shared/: {wrong:?}");
}

#[test]
fn no_function_carries_the_sandbox_or_the_fakes() {
    let workspace = workspace();
    let mut wrong = Vec::new();
    for (function, _) in workspace.iter().filter(|(_, krate)| is_function(krate)) {
        let reached = reachable(&workspace, function);
        if reached.contains_key("sandbox") {
            wrong.push(format!("{function} reaches the sandbox"));
        }
        if reached.get("domain").is_some_and(|features| features.contains("fakes")) {
            wrong.push(format!("{function} reaches domain's fakes"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn the_checks_see_a_dependency_that_breaks_them() {
    // The bench is no function, but it reaches the fakes and a function crate: the walk finds both.
    let workspace = workspace();
    let reached = reachable(&workspace, "millwright-bench");
    assert!(reached.get("domain").is_some_and(|features| features.contains("fakes")), "{reached:?}");
    assert!(reached.contains_key("order-worker"));
    assert!(reached.contains_key("sandbox"));
}
