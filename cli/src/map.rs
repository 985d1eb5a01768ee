//! `millwright map`: tell Millwright which Plex part a SKU is, or which Plex customer a shopper is,
//! and release at once the orders held for that gap.
//!
//! The worker finds parts by number (SKU = Plex part number) and customers by the connection's
//! match key. Where a store's SKUs or shoppers do not line up with Plex, an operator maps them:
//! the mapping goes into the same id map the worker's look-ups fill (through the worker's own
//! `remember_part` and `customer_map_key`, so the worker reads exactly what is written here), the
//! Plex side is checked to exist first, the mapping is audited on `{connection}#run#map`, and the
//! order sweep is run for the orders held for that gap only.

use std::process::ExitCode;

use anyhow::Context;
use domain::audit::{Outcome, Stage};
use domain::connection::CustomerMatch;
use domain::order::{CustomerKey, MappingGap};
use domain::{AuditEvent, ConnectionId, RecordKey, RecordKind};
use order_sweep::ConnectionSweep;
use runtime::Deps;
use serde_json::json;

#[derive(Debug, Clone, clap::Parser)]
pub struct MapArgs {
    /// The connection the mapping belongs to.
    #[arg(long, short = 'c', global = true)]
    pub connection: Option<ConnectionId>,
    #[command(subcommand)]
    pub what: MapCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum MapCommand {
    /// A BigCommerce SKU is this Plex part (by part number).
    Sku {
        /// The SKU as BigCommerce has it.
        sku: String,
        /// The Plex part number.
        #[arg(long)]
        part: String,
    },
    /// A shopper (by the connection's match key) is this Plex customer (by customer code).
    #[command(group(clap::ArgGroup::new("shopper").required(true).args(["customer_id", "email", "company"])))]
    Customer {
        /// The BigCommerce customer id (for connections that match customers by id).
        #[arg(long)]
        customer_id: Option<u64>,
        /// The billing e-mail (for connections that match by e-mail).
        #[arg(long)]
        email: Option<String>,
        /// The billing company (for connections that match by company).
        #[arg(long)]
        company: Option<String>,
        /// The Plex customer code.
        #[arg(long)]
        plex_customer: String,
    },
}

/// A mapping to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    Sku { sku: String, part_number: String },
    Customer { key: CustomerKey, plex_customer_code: String },
}

impl MapCommand {
    pub fn mapping(self) -> Mapping {
        match self {
            MapCommand::Sku { sku, part } => Mapping::Sku { sku, part_number: part },
            MapCommand::Customer { customer_id, email, company, plex_customer } => {
                // The argument group makes exactly one of the three present.
                let key = match (customer_id, email, company) {
                    (Some(id), _, _) => CustomerKey::BigCommerceId(id),
                    (None, Some(email), _) => CustomerKey::Email(email),
                    (None, None, company) => CustomerKey::Company(company.unwrap_or_default()),
                };
                Mapping::Customer { key, plex_customer_code: plex_customer }
            }
        }
    }
}

/// What `map` stored and released.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The mapping in words, e.g. `SKU "W-9" is Plex part 100-200 (id p-7)`.
    pub what: String,
    /// The sweeps of the gaps the mapping fills (one per distinct gap held).
    pub sweeps: Vec<ConnectionSweep>,
    /// What went wrong after the mapping was stored (the audit event not kept).
    pub warnings: Vec<String>,
}

impl Mapped {
    pub fn released(&self) -> Vec<u64> {
        self.sweeps.iter().flat_map(|sweep| sweep.released.iter().copied()).collect()
    }
}

/// Stores `mapping` for `connection` once Plex confirms its side exists, then releases the orders
/// held for the gap it fills.
pub async fn map(deps: &Deps, connection: &ConnectionId, mapping: &Mapping, actor: &str) -> anyhow::Result<Mapped> {
    let profile = deps.connection(connection).await?;
    let plex = deps.connection_apis().sales_orders(&profile).await.context("connecting to Plex")?;
    // `filled` is the gap this mapping fills, as the worker would report it.
    let (what, filled) = match mapping {
        Mapping::Sku { sku, part_number } => {
            let part = plex
                .part_by_number(part_number)
                .await
                .context("looking the part up in Plex")?
                .with_context(|| format!("Plex has no part numbered {part_number:?}"))?;
            orders::remember_part(deps.id_map.as_ref(), connection, sku, &part).await.context("storing the mapping")?;
            let what = format!("SKU {sku:?} is Plex part {} (id {})", part.number, part.id);
            (what, MappingGap::UnknownSku { sku: sku.clone() })
        }
        Mapping::Customer { key, plex_customer_code } => {
            // A customer code is what `CustomerKey::GuestCode` looks Plex customers up by.
            let customer_id = plex
                .find_customer(&CustomerKey::GuestCode(plex_customer_code.clone()))
                .await
                .context("looking the customer up in Plex")?
                .with_context(|| format!("Plex has no customer with code {plex_customer_code:?}"))?;
            let (namespace, source_id) = domain::id_map::customer_map_key(key);
            deps.id_map.put(connection, namespace, &source_id, &customer_id).await.context("storing the mapping")?;
            let what =
                format!("{} {:?} is Plex customer {plex_customer_code} (id {customer_id})", key.field(), key.value());
            (what, key.not_found())
        }
    };

    let mut warnings = Vec::new();
    if let Mapping::Customer { key, .. } = mapping {
        let matched_by = profile.orders.customer_match.field();
        if key.field() != matched_by {
            warnings.push(format!(
                "connection {connection} matches registered shoppers by {matched_by}, so the worker reads this \
                 {} mapping only if the profile's customer_match changes",
                key.field()
            ));
        }
    }
    let now = chrono::Utc::now();
    let event = AuditEvent::new(
        RecordKey::new(connection.clone(), RecordKind::Run, "map"),
        now,
        Stage::Mapped,
        Outcome::Ok,
        actor,
    )
    .with_message(format!("mapped: {what}"))
    .with_detail(json!({ "mapping": what }));
    if let Err(error) = deps.audit.append(&event).await {
        warnings.push(format!("the mapping's audit event was not stored: {error}"));
    }

    let held = deps.holds.list(connection).await.context("listing the held orders")?;
    let gaps = domain::hold::distinct_gaps(&held).into_iter().filter(|gap| same_gap(gap, &filled));
    let sweep = crate::sweep::sweep(deps, actor);
    let mut sweeps = Vec::new();
    for gap in gaps {
        sweeps.push(sweep.release_held(&profile, Some(&gap), now).await);
    }
    Ok(Mapped { what, sweeps, warnings })
}

/// Whether a held gap is the one a mapping fills. Held gaps carry the value as the order had it,
/// and e-mails match whatever their case (the worker looks them up lower-cased).
fn same_gap(held: &MappingGap, filled: &MappingGap) -> bool {
    match (held, filled) {
        (
            MappingGap::UnknownCustomer { field, value },
            MappingGap::UnknownCustomer { field: filled_field, value: filled_value },
        ) if field == filled_field && field == CustomerMatch::Email.field() => {
            value.to_lowercase() == filled_value.to_lowercase()
        }
        _ => held == filled,
    }
}

/// What an operator can do about `gap`, as a command where there is one.
pub fn how_to_fill(gap: &MappingGap, connection: &ConnectionId) -> String {
    // Values are quoted for a POSIX shell: SKUs and company names may hold spaces.
    let quoted = |value: &str| format!("'{}'", value.replace('\'', "'\\''"));
    match gap {
        MappingGap::UnknownSku { sku } => format!(
            "create part {sku:?} in Plex, or map it: millwright map --connection {connection} sku {} --part <PLEX PART NUMBER>",
            quoted(sku)
        ),
        MappingGap::UnknownCustomer { field, value } => {
            let option = match field.as_str() {
                "customer_id" => "--customer-id",
                "billing_address.company" => "--company",
                "billing_address.email" => "--email",
                // The configured guest customer code itself is unknown to Plex.
                _ => return format!("create the guest customer {value:?} in Plex, or set another guest_customer_code"),
            };
            format!(
                "create the customer in Plex, or map it: millwright map --connection {connection} customer {option} {} \
                 --plex-customer <PLEX CUSTOMER CODE>",
                quoted(value)
            )
        }
        MappingGap::MissingCustomerField { field } => {
            format!(
                "the order has no {field}: correct it in BigCommerce (its update retries it) or match customers by another key"
            )
        }
        MappingGap::NoGuestCustomer => "set the connection's guest_customer_code".to_owned(),
    }
}

/// The text form.
pub fn lines(mapped: &Mapped) -> Vec<String> {
    let mut lines = vec![format!("mapped: {}", mapped.what)];
    lines.extend(mapped.warnings.iter().map(|warning| format!("    warning: {warning}")));
    for sweep in &mapped.sweeps {
        lines.extend(sweep.problems.iter().map(|problem| format!("    problem: {problem}")));
    }
    let released = mapped.released();
    if released.is_empty() {
        lines.push("no held order was waiting for it".to_owned());
    } else {
        lines.extend(released.iter().map(|order_id| format!("queued again: order {order_id}")));
    }
    lines
}

/// Runs the command; exits 1 when anything after storing the mapping went wrong.
pub async fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    let connection = args.connection.context("--connection is required")?;
    let deps = crate::deps().await?;
    let mapped = map(&deps, &connection, &args.what.mapping(), &crate::replay::actor()).await?;
    for line in lines(&mapped) {
        println!("{line}");
    }
    let clean = mapped.warnings.is_empty() && mapped.sweeps.iter().all(|sweep| sweep.problems.is_empty());
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
