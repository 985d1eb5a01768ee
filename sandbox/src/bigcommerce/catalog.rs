//! Catalog v3 reads (`products_catalog.v3.yml`, `product-variants_catalog.v3.yml`), enough for a
//! stock sync to map SKUs to products and variants and see their tracking mode and level.
//!
//! - `GET /v3/catalog/products`: filters `id`, `id:in`, `id:not_in`, `id:min`, `id:max`,
//!   `id:greater`, `id:less`, `sku` and `sku:in` (the product's own, "main" SKU), `name`,
//!   `inventory_level`; `include=variants` embeds each product's variants; `include_fields` keeps
//!   `id` and the fields named, `exclude_fields` drops the fields named (never `id`); `sort` (`id`,
//!   `name`, `sku`, `price`, `inventory_level`) with `direction` (`asc`, `desc`).
//! - `GET /v3/catalog/variants`: filters `id`, `sku` (one SKU: there is no `sku:in`, and an
//!   unknown parameter is ignored, so `sku:in` returns every variant), `upc`, `product_id:in`;
//!   `include_fields` keeps `id`, `product_id` and the fields named; `exclude_fields`.
//!
//! Both page with `page` and `limit` (default 50, at most 250; more is served as 250) and answer
//! `{data, meta: {pagination}}`; a malformed parameter is a 422 naming it. A product's
//! `inventory_level` is its stock at the default location: for `inventory_tracking: product` the
//! product's own level (each variant shows it too), for `variant` the sum of its variants' levels.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::api::{id_list, one_id, page_body, page_slice, paging, text_list, unprocessable};
use super::model::{Product, Store, Variant};
use super::{ApiVersion, BigCommerce, Caller, error};
use crate::{lock, reply};

const DEFAULT_PAGE_SIZE: u64 = 50;
const MAX_PAGE_SIZE: u64 = 250;

/// A variant's SKU id (Catalog v2's): the seeded `sku_id`, else the variant id; `null` for the
/// base variant of a product without options.
pub(crate) fn sku_id(product: &Product, variant: &Variant) -> Option<u64> {
    if let Some(id) = variant.extra.get("sku_id").and_then(Value::as_u64) {
        return Some(id);
    }
    let has_options = product.variants.len() > 1 || product.inventory_tracking == "variant";
    has_options.then_some(variant.id)
}

/// The base variant of a simple product (one variant), else `null`, as `base_variant_id` reads.
pub(crate) fn base_variant_id(product: &Product) -> Option<u64> {
    match product.variants.as_slice() {
        [only] => Some(only.id),
        _ => None,
    }
}

fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    format!("/{}/", words.join("-"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

/// One variant in the `productVariant_Full` shape, overlaid with its seeded fields.
pub(crate) fn render_variant(product: &Product, variant: &Variant) -> Map<String, Value> {
    let mut fields = object(json!({
        "id": variant.id,
        "product_id": product.id,
        "sku": variant.sku,
        "sku_id": sku_id(product, variant),
        "price": null,
        "calculated_price": product.price,
        "sale_price": null,
        "retail_price": null,
        "map_price": null,
        "weight": null,
        "calculated_weight": 0,
        "width": null,
        "height": null,
        "depth": null,
        "is_free_shipping": false,
        "fixed_cost_shipping_price": null,
        "purchasing_disabled": false,
        "purchasing_disabled_message": "",
        "image_url": "",
        "cost_price": null,
        "upc": "",
        "mpn": "",
        "gtin": "",
        "inventory_level": variant.inventory_level,
        "inventory_warning_level": 0,
        "bin_picking_number": "",
        "option_values": [],
    }));
    fields.extend(variant.extra.clone());
    fields
}

/// One product in the `product_Full` shape, overlaid with its seeded fields.
fn render_product(product: &Product) -> Map<String, Value> {
    // Built in parts: one literal this size exceeds the json! macro's recursion limit.
    let mut fields = object(json!({
        "id": product.id,
        "name": product.name,
        "type": "physical",
        "sku": product.sku,
        "description": "",
        "weight": 0,
        "width": 0,
        "depth": 0,
        "height": 0,
        "price": product.price,
        "cost_price": 0,
        "retail_price": 0,
        "sale_price": 0,
        "map_price": 0,
        "tax_class_id": 0,
        "product_tax_code": "",
        "calculated_price": product.price,
        "categories": [],
        "brand_id": 0,
        "option_set_id": null,
        "option_set_display": "right",
        "inventory_level": product.inventory_level,
        "inventory_warning_level": 0,
        "inventory_tracking": product.inventory_tracking,
        "reviews_rating_sum": 0,
        "reviews_count": 0,
        "total_sold": 0,
        "fixed_cost_shipping_price": 0,
        "is_free_shipping": false,
        "is_visible": true,
        "is_featured": false,
    }));
    fields.extend(object(json!({
        "related_products": [-1],
        "warranty": "",
        "bin_picking_number": "",
        "layout_file": "",
        "upc": "",
        "mpn": "",
        "gtin": "",
        "search_keywords": "",
        "availability": "available",
        "availability_description": "",
        "gift_wrapping_options_type": "any",
        "gift_wrapping_options_list": [],
        "sort_order": 0,
        "condition": "New",
        "is_condition_shown": false,
        "order_quantity_minimum": 0,
        "order_quantity_maximum": 0,
        "page_title": "",
        "meta_keywords": [],
        "meta_description": "",
        "view_count": 0,
        "preorder_release_date": null,
        "preorder_message": "",
        "is_preorder_only": false,
        "is_price_hidden": false,
        "price_hidden_label": "",
        "custom_url": { "url": slug(&product.name), "is_customized": false },
        "base_variant_id": base_variant_id(product),
        "open_graph_type": "product",
        "open_graph_title": "",
        "open_graph_description": "",
        "open_graph_use_meta_description": true,
        "open_graph_use_product_name": true,
        "open_graph_use_image": true,
        "date_created": product.date_created,
        "date_modified": product.date_modified,
    })));
    fields.extend(product.extra.clone());
    fields
}

/// `include_fields` (keep `always` and these) and `exclude_fields` (drop these, never `always`).
fn select_fields(fields: &mut Map<String, Value>, params: &HashMap<String, String>, always: &[&str]) {
    if let Some(include) = text_list(params, "include_fields") {
        fields.retain(|name, _| always.contains(&name.as_str()) || include.iter().any(|wanted| wanted == name));
    }
    if let Some(exclude) = text_list(params, "exclude_fields") {
        fields.retain(|name, _| always.contains(&name.as_str()) || !exclude.iter().any(|unwanted| unwanted == name));
    }
}

fn store_of<'a>(stores: &'a std::collections::BTreeMap<String, Store>, caller: &Caller) -> Result<&'a Store, Response> {
    stores.get(&caller.store_hash).ok_or_else(|| error(ApiVersion::V3, StatusCode::NOT_FOUND, "Store not found."))
}

/// `GET /stores/{hash}/v3/catalog/products`.
pub(super) async fn list_products(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = Map::new();
    let (page, limit) = paging(&params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, &mut invalid);
    let id = one_id(&params, "id", &mut invalid);
    let id_in = id_list(&params, "id:in", &mut invalid);
    let id_not_in = id_list(&params, "id:not_in", &mut invalid);
    let id_min = one_id(&params, "id:min", &mut invalid);
    let id_max = one_id(&params, "id:max", &mut invalid);
    let id_greater = one_id(&params, "id:greater", &mut invalid);
    let id_less = one_id(&params, "id:less", &mut invalid);
    let inventory_level = params.get("inventory_level").map(|raw| raw.trim().parse::<i64>());
    if matches!(inventory_level, Some(Err(_))) {
        invalid.insert("inventory_level".to_owned(), json!("must be an integer"));
    }
    let sku_in = text_list(&params, "sku:in");
    let include_variants =
        text_list(&params, "include").is_some_and(|include| include.iter().any(|part| part == "variants"));
    let descending = match params.get("direction").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            invalid.insert("direction".to_owned(), json!("must be asc or desc"));
            false
        }
    };
    let sort = params.get("sort").map(String::as_str).unwrap_or("id");
    if !["id", "name", "sku", "price", "inventory_level"].contains(&sort) {
        invalid.insert("sort".to_owned(), json!("must be one of id, name, sku, price, inventory_level"));
    }
    if !invalid.is_empty() {
        return unprocessable("The filter(s) are not valid.", invalid);
    }

    let state = lock(&double.state);
    let store = match store_of(&state.stores, &caller) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let mut products: Vec<&Product> = store
        .products
        .iter()
        .filter(|product| {
            id.is_none_or(|id| product.id == id)
                && id_in.as_ref().is_none_or(|ids| ids.contains(&product.id))
                && id_not_in.as_ref().is_none_or(|ids| !ids.contains(&product.id))
                && id_min.is_none_or(|min| product.id >= min)
                && id_max.is_none_or(|max| product.id <= max)
                && id_greater.is_none_or(|floor| product.id > floor)
                && id_less.is_none_or(|ceiling| product.id < ceiling)
                && params.get("sku").is_none_or(|sku| &product.sku == sku)
                && sku_in.as_ref().is_none_or(|skus| skus.iter().any(|sku| sku == &product.sku))
                && params.get("name").is_none_or(|name| &product.name == name)
                && inventory_level
                    .as_ref()
                    .is_none_or(|level| level.as_ref().is_ok_and(|level| product.inventory_level == *level))
        })
        .collect();
    match sort {
        "name" => products.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
        "sku" => products.sort_by(|a, b| a.sku.cmp(&b.sku).then(a.id.cmp(&b.id))),
        "price" => products.sort_by(|a, b| a.price.total_cmp(&b.price).then(a.id.cmp(&b.id))),
        "inventory_level" => products.sort_by_key(|product| (product.inventory_level, product.id)),
        _ => products.sort_by_key(|product| product.id),
    }
    if descending {
        products.reverse();
    }
    let data: Vec<Value> = page_slice(&products, page, limit)
        .iter()
        .map(|product| {
            let mut fields = render_product(product);
            select_fields(&mut fields, &params, &["id"]);
            if include_variants {
                let variants: Vec<Value> =
                    product.variants.iter().map(|variant| Value::Object(render_variant(product, variant))).collect();
                fields.insert("variants".to_owned(), Value::Array(variants));
            }
            Value::Object(fields)
        })
        .collect();
    reply::json(StatusCode::OK, &page_body(data, products.len(), page, limit))
}

/// `GET /stores/{hash}/v3/catalog/variants`.
pub(super) async fn list_variants(
    State(double): State<Arc<BigCommerce>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut invalid = Map::new();
    let (page, limit) = paging(&params, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, &mut invalid);
    let id = one_id(&params, "id", &mut invalid);
    let product_id_in = id_list(&params, "product_id:in", &mut invalid);
    if !invalid.is_empty() {
        return unprocessable("The filter(s) are not valid.", invalid);
    }
    let state = lock(&double.state);
    let store = match store_of(&state.stores, &caller) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let mut variants: Vec<(&Product, &Variant)> = store
        .products
        .iter()
        .filter(|product| product_id_in.as_ref().is_none_or(|ids| ids.contains(&product.id)))
        .flat_map(|product| product.variants.iter().map(move |variant| (product, variant)))
        .filter(|(_, variant)| {
            id.is_none_or(|id| variant.id == id)
                && params.get("sku").is_none_or(|sku| &variant.sku == sku)
                && params
                    .get("upc")
                    .is_none_or(|upc| variant.extra.get("upc").and_then(Value::as_str) == Some(upc.as_str()))
        })
        .collect();
    variants.sort_by_key(|(_, variant)| variant.id);
    let data: Vec<Value> = page_slice(&variants, page, limit)
        .iter()
        .map(|(product, variant)| {
            let mut fields = render_variant(product, variant);
            select_fields(&mut fields, &params, &["id", "product_id"]);
            Value::Object(fields)
        })
        .collect();
    reply::json(StatusCode::OK, &page_body(data, variants.len(), page, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(tracking: &str, variants: &[(u64, &str)]) -> Product {
        let variants: Vec<Value> = variants.iter().map(|(id, sku)| json!({"id": id, "sku": sku})).collect();
        serde_json::from_value(json!({"id": 1, "name": "Hex Bolt, M8", "sku": "B", "inventory_tracking": tracking,
                                      "variants": variants}))
        .unwrap()
    }

    #[test]
    fn a_simple_products_base_variant_has_no_sku_id() {
        let simple = product("product", &[(10, "B")]);
        assert_eq!((base_variant_id(&simple), sku_id(&simple, &simple.variants[0])), (Some(10), None));
        let options = product("variant", &[(10, "B-1"), (11, "B-2")]);
        assert_eq!((base_variant_id(&options), sku_id(&options, &options.variants[1])), (None, Some(11)));
    }

    #[test]
    fn include_fields_keep_the_id_and_exclude_fields_never_drop_it() {
        let mut fields = render_product(&product("product", &[(10, "B")]));
        assert_eq!(fields["custom_url"]["url"], "/hex-bolt-m8/");
        let params: HashMap<String, String> = [("include_fields".to_owned(), "sku,inventory_level".to_owned())].into();
        select_fields(&mut fields, &params, &["id"]);
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["id", "inventory_level", "sku"]);
        let params: HashMap<String, String> = [("exclude_fields".to_owned(), "id,sku".to_owned())].into();
        select_fields(&mut fields, &params, &["id"]);
        assert!(fields.contains_key("id") && !fields.contains_key("sku"));
    }
}
