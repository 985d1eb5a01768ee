//! Alert causes: the stable name under which the alerter sends one e-mail per window
//! (`Alert::cause`). A cause names why orders failed, never which order: thirteen orders Plex refuses
//! for the same field are one cause, one e-mail, and twelve audit events saying they were grouped
//! under it.

use domain::System;

/// The longest reason kept in a cause; what follows is rarely what tells two causes apart.
const MAX_REASON_CHARS: usize = 160;

/// The cause of a refusal by `system` (`ErrorClass::Data`): the system and the refusal as its
/// message tells it, with what differs between orders taken out ([`normalise`]). For a Plex 400
/// that is the request line (the order's id in its path becomes `#`), Plex's message and the field
/// it names.
pub(crate) fn rejection(system: System, message: &str) -> String {
    format!("{}-rejected:{}", system.as_str(), normalise(message))
}

/// `text` with the values that belong to one order replaced: a quoted value becomes `"…"`, and
/// every word with a digit in it (an order, line or part number, a UUID, a price, a path's `v1`)
/// becomes `#`. Whitespace is folded and the result cut to a bounded length, so the same refusal
/// of any order reads the same: `Plex refused POST /sales/v1/orders/5f0c…-…/lines: … (field PartId)`
/// → `Plex refused POST /sales/#/orders/#/lines: … (field PartId)`.
pub(crate) fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON_CHARS * 2));
    let mut word = String::new();
    let mut chars = text.chars();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        match c {
            '"' => {
                // Skip to the closing quote; an unclosed one swallows the rest, which is the value.
                for inner in chars.by_ref() {
                    if inner == '"' {
                        break;
                    }
                }
                out.push_str("\"…\"");
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    flush(&mut word, &mut out);
    let trimmed = out.trim_end();
    match trimmed.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(message: &str, expected: &str) {
        assert_eq!(normalise(message), expected, "{message}");
    }

    #[test]
    fn order_specific_values_are_taken_out() {
        check(
            "Plex refused POST /sales/v1/orders/5f0c2a9e-1b7d-4c3e-9a51-0d2e8f6b7c41/lines: The specified field \
             attempts to reference data that does not exist. (field PartId)",
            "Plex refused POST /sales/#/orders/#/lines: The specified field attempts to reference data that does \
             not exist. (field PartId)",
        );
        check(
            r#"Plex 422 Unprocessable Entity: lines[2].partId: no part with id "p-999""#,
            r#"Plex # Unprocessable Entity: lines[#].partId: no part with id "…""#,
        );
        check(
            "order was cancelled in BigCommerce (status 5); Plex order SO-100001 is unchanged",
            "order was cancelled in BigCommerce (status #); Plex order # is unchanged",
        );
        check("line 1 (MW-BOLT-M8) price changed from 0.45 to 0.50", "line # (#) price changed from #.# to #.#");
    }

    #[test]
    fn the_same_refusal_of_two_orders_is_one_cause_and_a_different_field_another() {
        let refusal = |order: &str, field: &str| {
            format!("Plex refused POST /sales/v1/orders/{order}/lines: A value is required. (field {field})")
        };
        let first = rejection(System::Plex, &refusal("0a1b2c3d-0000-4000-8000-000000000001", "PartId"));
        let second = rejection(System::Plex, &refusal("9f8e7d6c-1111-4111-8111-111111111112", "PartId"));
        assert_eq!(first, second);
        assert!(first.starts_with("plex-rejected:Plex refused POST /sales/#/orders/#/lines"), "{first}");
        assert_ne!(first, rejection(System::Plex, &refusal("0a1b2c3d-0000-4000-8000-000000000001", "CustomerId")));
    }

    #[test]
    fn whitespace_is_folded_and_long_reasons_are_cut() {
        check("  a \n\t b  ", "a b");
        check(r#"unclosed "quote 123"#, r#"unclosed "…""#);
        let long = "word ".repeat(100);
        let cut = normalise(&long);
        assert_eq!(cut.chars().count(), MAX_REASON_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
