//! Stock in Plex (notes §2.4 "Inventory"): the active containers summed into on-hand rows
//! ([`PlexClient::on_hand`]), the container adjustment history that tells which parts changed
//! since a checkpoint ([`PlexClient::container_adjustments`]), and the inventory locations
//! ([`PlexClient::locations`]).
//!
//! `GET /inventory/v1/inventory-tracking/containers` has no date filter and no paging: it answers
//! one bare array of every active container, tens of MB on a real tenant (§2.1, §7.8). The client
//! reads it as a stream and decodes it element by element (`json_array`), keeping only the sums
//! per part and location, so memory does not grow with the number of containers. A body that ends
//! before the array closes is an [`Error::Decode`] naming the element it reached (transient: the
//! next read may get it whole); an element that does not decode is one naming that element.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use domain::stock::{ContainerFilter, OnHand};
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::Error as _;

use crate::client::is_not_found;
use crate::json_array::{ArraySplitter, Fault, SplitError};
use crate::wire::{datetime, decimal, parse_datetime};
use crate::{Error, PlexClient};

const CONTAINERS: &str = "/inventory/v1/inventory-tracking/containers";
const ADJUSTMENTS: &str = "/inventory/v1/inventory-history/container-adjustments";
const LOCATIONS: &str = "/inventory/v1/inventory-definitions/locations";

/// The containers read into on-hand rows, and how each container was counted: `containers` is
/// `counted` plus the three kinds left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnHandSummary {
    /// One row per part number and Plex location that had a sellable container, sorted by part
    /// number, then location.
    pub on_hand: Vec<OnHand>,
    /// Active containers in Plex's answer.
    pub containers: u64,
    /// Containers summed into `on_hand`.
    pub counted: u64,
    /// Left out: their status is not sellable.
    pub skipped_by_status: u64,
    /// Left out: their location is not among the filter's.
    pub skipped_by_location: u64,
    /// Left out: no part number, or neither a location code nor a location id.
    pub unidentified: u64,
    /// Distinct part numbers in `on_hand`.
    pub parts: usize,
    /// HTTP requests sent, retries included.
    pub calls: u32,
}

/// One manual change to one container (`container-adjustments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// `adjustmentDate`.
    pub at: DateTime<Utc>,
    /// The part's number (`partNumber`, as this schema spells it), when Plex gave it.
    pub part_no: Option<String>,
    pub part_id: Option<String>,
    /// Where the container is after the change: its location's code and id.
    pub location: Option<String>,
    pub location_id: Option<String>,
    /// The signed change (`-3` took three away; 0 for a status or location change).
    pub quantity: Decimal,
    pub serial_no: Option<String>,
    /// `adjustmentCode`, e.g. `Quantity Change`, a tenant's own reason codes.
    pub code: Option<String>,
}

/// An inventory location (`inventory-definitions/locations`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: String,
    /// What containers carry as their `location`.
    pub code: Option<String>,
    pub building_code: Option<String>,
    pub building_name: Option<String>,
    pub location_type: Option<String>,
    pub inventory_location: Option<bool>,
    pub supply_location: Option<bool>,
    pub tank_silo: Option<bool>,
}

impl PlexClient {
    /// `GET /inventory/v1/inventory-tracking/containers`, every active container, summed per part
    /// number and Plex location over the containers `filter` accepts (sellable statuses, listed
    /// locations). Plex's answer is one array of tens of MB, read as it arrives: the client's
    /// timeout must cover the whole body (a client built for this read is given a longer one).
    /// A 404 ("no data exists to return", notes §2.3) is no containers.
    pub async fn on_hand(&self, filter: &ContainerFilter) -> Result<OnHandSummary, Error> {
        self.on_hand_where(filter, &[]).await
    }

    /// [`on_hand`](Self::on_hand) of these parts only: one `containers?partId=` read per part id,
    /// one after another, the rows of all of them in one summary (sorted as `on_hand`'s).
    pub async fn on_hand_of_parts(
        &self,
        filter: &ContainerFilter,
        part_ids: &[String],
    ) -> Result<OnHandSummary, Error> {
        let mut all = OnHandSummary::default();
        let mut parts = BTreeSet::new();
        for part_id in part_ids {
            let one = self.on_hand_where(filter, &[("partId", part_id.as_str())]).await?;
            parts.extend(one.on_hand.iter().map(|row| row.part_no.clone()));
            all.on_hand.extend(one.on_hand);
            all.containers += one.containers;
            all.counted += one.counted;
            all.skipped_by_status += one.skipped_by_status;
            all.skipped_by_location += one.skipped_by_location;
            all.unidentified += one.unidentified;
            all.calls += one.calls;
        }
        all.on_hand.sort_by(|a, b| (&a.part_no, &a.location).cmp(&(&b.part_no, &b.location)));
        all.parts = parts.len();
        Ok(all)
    }

    async fn on_hand_where(&self, filter: &ContainerFilter, query: &[(&str, &str)]) -> Result<OnHandSummary, Error> {
        let mut summary = OnHandSummary::default();
        let reply = match self.get_streaming(CONTAINERS, query, &mut summary.calls).await {
            Ok(reply) => reply,
            Err(Error::Http(error)) if is_not_found(&error) => return Ok(summary),
            Err(error) => return Err(error),
        };
        let mut sums: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::new();
        let mut splitter = ArraySplitter::new();
        let mut body = reply.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            splitter
                .feed(&chunk, |index, bytes| {
                    let container: wire::Container =
                        serde_json::from_slice(bytes).map_err(|source| element_error("containers", index, source))?;
                    summary.containers += 1;
                    tally(container, filter, &mut summary, &mut sums)
                        .map_err(|source| element_error("containers", index, source))
                })
                .map_err(|fault| match fault {
                    Fault::Element(error) => error,
                    Fault::Split(split) => split_error("containers", split),
                })?;
        }
        splitter.finish().map_err(|split| split_error("containers", split))?;
        summary.parts = sums.len();
        summary.on_hand = sums
            .into_iter()
            .flat_map(|(part_no, locations)| {
                locations.into_iter().map(move |(location, quantity)| OnHand {
                    part_no: part_no.clone(),
                    location,
                    quantity,
                })
            })
            .collect();
        Ok(summary)
    }

    /// `GET /inventory/v1/inventory-history/container-adjustments?beginDate=&endDate=`: every
    /// adjustment in `[since, until]` (Plex compares inclusively; both are sent in whole seconds,
    /// `since` rounded down and `until` up, so nothing in the window is lost), oldest first. The
    /// parts a stock run must read again are those named here.
    ///
    /// The HTTP requests it sent are added to `calls`.
    pub async fn container_adjustments(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        calls: &mut u32,
    ) -> Result<Vec<Adjustment>, Error> {
        // `until` rounded up, so an adjustment in the window's last second is in it.
        let until = until.duration_trunc(TimeDelta::seconds(1)).unwrap_or(until)
            + if until.timestamp_subsec_nanos() > 0 { TimeDelta::seconds(1) } else { TimeDelta::zero() };
        let (begin, end) = (datetime(since), datetime(until));
        let query = [("beginDate", begin.as_str()), ("endDate", end.as_str())];
        let rows: Vec<wire::Adjustment> = self.get_list(ADJUSTMENTS, &query, "container adjustments", calls).await?;
        let mut adjustments = rows
            .into_iter()
            .enumerate()
            .map(|(index, row)| {
                let at = row.adjustment_date.as_deref().and_then(parse_datetime).ok_or_else(|| {
                    let problem = serde_json::Error::custom("adjustmentDate is missing or not a Plex date-time");
                    element_error("container adjustments", index as u64, problem)
                })?;
                Ok(Adjustment {
                    at,
                    part_no: row.part_number,
                    part_id: row.part_id,
                    location: row.location,
                    location_id: row.location_id,
                    quantity: quantity("container adjustments", index as u64, row.quantity)?,
                    serial_no: row.serial_no,
                    code: row.adjustment_code,
                })
            })
            .collect::<Result<Vec<Adjustment>, Error>>()?;
        adjustments.sort_by_key(|adjustment| adjustment.at);
        Ok(adjustments)
    }

    /// `GET /inventory/v1/inventory-definitions/locations`: every inventory location of the
    /// tenant, for checking a connection's location mapping against what Plex has.
    pub async fn locations(&self) -> Result<Vec<Location>, Error> {
        let rows: Vec<wire::Location> = self.get_list(LOCATIONS, &[], "locations", &mut 0).await?;
        Ok(rows
            .into_iter()
            .map(|row| Location {
                id: row.location_id,
                code: row.location_code,
                building_code: row.building_code,
                building_name: row.building_name,
                location_type: row.location_type,
                inventory_location: row.inventory_location,
                supply_location: row.supply_location,
                tank_silo: row.tank_silo,
            })
            .collect())
    }
}

/// Counts one container: left out by status, then by location, then for lack of a part or a
/// location; otherwise added to its part's sum at its location (the code, else the id).
fn tally(
    container: wire::Container,
    filter: &ContainerFilter,
    summary: &mut OnHandSummary,
    sums: &mut BTreeMap<String, BTreeMap<String, Decimal>>,
) -> Result<(), serde_json::Error> {
    if !filter.accepts_status(container.container_status.as_deref()) {
        summary.skipped_by_status += 1;
        return Ok(());
    }
    if !filter.accepts_location(container.location.as_deref()) {
        summary.skipped_by_location += 1;
        return Ok(());
    }
    let given = |text: Option<String>| text.filter(|text| !text.trim().is_empty());
    let (Some(part_no), Some(location)) =
        (given(container.part_no), given(container.location).or_else(|| given(container.location_id)))
    else {
        summary.unidentified += 1;
        return Ok(());
    };
    let quantity = match container.quantity {
        Some(quantity) => decimal(quantity).ok_or_else(|| serde_json::Error::custom("quantity is out of range"))?,
        None => Decimal::ZERO,
    };
    *sums.entry(part_no).or_default().entry(location).or_default() += quantity;
    summary.counted += 1;
    Ok(())
}

/// A Plex double as a decimal; `null` is nothing.
fn quantity(what: &'static str, index: u64, value: Option<f64>) -> Result<Decimal, Error> {
    match value {
        None => Ok(Decimal::ZERO),
        Some(value) => decimal(value)
            .ok_or_else(|| element_error(what, index, serde_json::Error::custom("quantity is out of range"))),
    }
}

fn element_error(what: &'static str, index: u64, source: serde_json::Error) -> Error {
    Error::Decode { what, element: Some(index), source }
}

/// A streamed array that was not whole, as the decode error naming the element it reached.
fn split_error(what: &'static str, split: SplitError) -> Error {
    match split {
        SplitError::Malformed { index, reason } => element_error(what, index, serde_json::Error::custom(reason)),
        SplitError::Ended { index, inside } => {
            let reason = if inside {
                "the response ended inside this element"
            } else {
                "the response ended before this element, without closing the array"
            };
            let cut = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, reason);
            element_error(what, index, serde_json::Error::io(cut))
        }
    }
}

mod wire {
    //! Plex's container, adjustment and location JSON, only the fields this client reads. These
    //! types never leave the crate.

    use super::Deserialize;

    /// One container; the other 26 fields are skipped unread.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Container {
        #[serde(default)]
        pub part_no: Option<String>,
        #[serde(default)]
        pub container_status: Option<String>,
        /// The location's code.
        #[serde(default)]
        pub location: Option<String>,
        #[serde(default)]
        pub location_id: Option<String>,
        #[serde(default)]
        pub quantity: Option<f64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Adjustment {
        #[serde(default)]
        pub adjustment_date: Option<String>,
        #[serde(default)]
        pub serial_no: Option<String>,
        #[serde(default)]
        pub quantity: Option<f64>,
        #[serde(default)]
        pub adjustment_code: Option<String>,
        #[serde(default)]
        pub part_id: Option<String>,
        #[serde(default)]
        pub part_number: Option<String>,
        #[serde(default)]
        pub location: Option<String>,
        #[serde(default)]
        pub location_id: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Location {
        pub location_id: String,
        #[serde(default)]
        pub location_code: Option<String>,
        #[serde(default)]
        pub building_code: Option<String>,
        #[serde(default)]
        pub building_name: Option<String>,
        #[serde(default)]
        pub location_type: Option<String>,
        #[serde(default)]
        pub inventory_location: Option<bool>,
        #[serde(default)]
        pub supply_location: Option<bool>,
        #[serde(default)]
        pub tank_silo: Option<bool>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(statuses: &[&str], locations: &[&str]) -> ContainerFilter {
        ContainerFilter {
            statuses: statuses.iter().map(|status| (*status).to_owned()).collect(),
            locations: locations.iter().map(|location| (*location).to_owned()).collect(),
        }
    }

    fn container(document: serde_json::Value) -> wire::Container {
        serde_json::from_value(document).expect("a container")
    }

    #[test]
    fn each_container_is_counted_once_summed_or_left_out_with_its_reason() {
        let filter = filter(&["OK"], &["FG-01", "FG-02"]);
        let mut summary = OnHandSummary::default();
        let mut sums = BTreeMap::new();
        for document in [
            serde_json::json!({"partNo": "A", "containerStatus": "OK", "location": "FG-01", "quantity": 10}),
            serde_json::json!({"partNo": "A", "containerStatus": "OK", "location": "FG-01", "quantity": 2.5}),
            serde_json::json!({"partNo": "A", "containerStatus": "OK", "location": "FG-02", "quantity": -1}),
            serde_json::json!({"partNo": "A", "containerStatus": "Hold", "location": "FG-01", "quantity": 99}),
            serde_json::json!({"partNo": "B", "containerStatus": "OK", "location": "WIP", "quantity": 99}),
            serde_json::json!({"partNo": null, "containerStatus": "OK", "location": "FG-01", "quantity": 99}),
            serde_json::json!({"partNo": "C", "containerStatus": "OK", "location": "FG-02", "quantity": null}),
        ] {
            tally(container(document), &filter, &mut summary, &mut sums).expect("tallied");
        }
        let expected: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::from([
            (
                "A".to_owned(),
                BTreeMap::from([("FG-01".to_owned(), Decimal::new(125, 1)), ("FG-02".to_owned(), Decimal::from(-1))]),
            ),
            ("C".to_owned(), BTreeMap::from([("FG-02".to_owned(), Decimal::ZERO)])),
        ]);
        assert_eq!(sums, expected);
        assert_eq!(
            (summary.counted, summary.skipped_by_status, summary.skipped_by_location, summary.unidentified),
            (4, 1, 1, 1)
        );
    }

    #[test]
    fn a_container_without_a_location_code_is_summed_under_its_location_id() {
        let mut summary = OnHandSummary::default();
        let mut sums = BTreeMap::new();
        let document = serde_json::json!({"partNo": "A", "containerStatus": "OK", "locationId": "1f0c", "quantity": 3});
        tally(container(document), &filter(&["OK"], &[]), &mut summary, &mut sums).expect("tallied");
        assert_eq!(sums["A"]["1f0c"], Decimal::from(3));
    }

    #[test]
    fn cut_off_and_malformed_arrays_are_decode_errors_naming_the_element() {
        let cut = split_error("containers", SplitError::Ended { index: 41, inside: true });
        assert_eq!(cut.to_string(), "Plex containers: the response body was cut off at element 41");
        assert_eq!(cut.class(), domain::ErrorClass::Transient);
        let malformed = split_error("containers", SplitError::Malformed { index: 7, reason: "no comma" });
        assert_eq!(malformed.to_string(), "Plex containers: element 7 of the response did not have the expected shape");
        assert_eq!(malformed.class(), domain::ErrorClass::Data);
        assert!(matches!(malformed, Error::Decode { element: Some(7), .. }));
    }
}
