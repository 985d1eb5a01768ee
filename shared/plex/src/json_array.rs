//! Splitting a top-level JSON array into its elements as the bytes arrive, so a list of tens of MB
//! (Plex's containers: one unpaged array, Plex notes §2.1, §7.8) is decoded element by element and
//! never held whole.
//!
//! [`ArraySplitter`] scans each chunk once, tracking only whether it is inside a string (and just
//! after a backslash there) and how deep inside the current element it is. An element that lies
//! within one chunk is handed out as a slice of that chunk; only an element cut by a chunk boundary
//! is copied, into a buffer that is cleared once the element is complete, so memory stays at the
//! largest element whatever the array's length. The splitter checks the array's punctuation (the
//! opening `[`, the commas, the closing `]`, nothing after it); each element's own syntax is left
//! to the decoder it is handed to.

/// Why the bytes were not one whole JSON array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// Not an array, or its punctuation is wrong; `index` is the element at which it went wrong.
    Malformed { index: u64, reason: &'static str },
    /// The bytes ended before the closing `]`: inside element `index` when `inside` is true, or
    /// before it began.
    Ended { index: u64, inside: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// After `[`: an element or `]`.
    FirstElement,
    /// After a comma: an element.
    NextElement,
    /// Inside an element.
    Element,
    /// After an element: `,` or `]`.
    Separator,
    /// After the closing `]`: only whitespace.
    Done,
}

/// The state of one array being split; feed it every chunk in order, then [`finish`].
///
/// [`finish`]: ArraySplitter::finish
#[derive(Debug)]
pub(crate) struct ArraySplitter {
    state: State,
    /// Open `{` and `[` inside the current element.
    depth: u32,
    in_string: bool,
    /// The byte before was a backslash inside a string.
    escaped: bool,
    /// The start of the current element, when it began in an earlier chunk.
    partial: Vec<u8>,
    /// How many elements were handed out: the index of the next.
    index: u64,
    /// The most `partial` ever held, for the tests that check memory stays flat.
    #[cfg(test)]
    peak_partial: usize,
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

impl ArraySplitter {
    pub(crate) fn new() -> ArraySplitter {
        ArraySplitter {
            state: State::Start,
            depth: 0,
            in_string: false,
            escaped: false,
            partial: Vec::new(),
            index: 0,
            #[cfg(test)]
            peak_partial: 0,
        }
    }

    /// Scans `chunk` and calls `element(index, bytes)` for each element it completes, in order.
    /// An error from `element` stops the scan and comes back as it is.
    pub(crate) fn feed<E>(
        &mut self,
        chunk: &[u8],
        mut element: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), Fault<E>> {
        // Where the current element's bytes in this chunk start.
        let mut from = 0;
        let mut at = 0;
        while at < chunk.len() {
            let byte = chunk[at];
            match self.state {
                State::Start => {
                    match byte {
                        b'[' => self.state = State::FirstElement,
                        // A UTF-8 byte order mark before the array.
                        0xEF | 0xBB | 0xBF if self.index == 0 => {}
                        _ if is_whitespace(byte) => {}
                        _ => return Err(self.malformed("the response is not a JSON array")),
                    }
                    at += 1;
                }
                State::FirstElement | State::NextElement => {
                    if is_whitespace(byte) {
                        at += 1;
                    } else if byte == b']' && self.state == State::FirstElement {
                        self.state = State::Done;
                        at += 1;
                    } else if byte == b']' || byte == b',' {
                        return Err(self.malformed("an element is missing between commas"));
                    } else {
                        // The element starts here; its first byte is scanned as part of it.
                        self.state = State::Element;
                        self.depth = 0;
                        self.in_string = false;
                        self.escaped = false;
                        from = at;
                    }
                }
                State::Element if self.in_string => {
                    if self.escaped {
                        self.escaped = false;
                        at += 1;
                        continue;
                    }
                    // Skip straight to the next quote or backslash: most bytes are inside strings.
                    match chunk[at..].iter().position(|byte| matches!(byte, b'"' | b'\\')) {
                        None => at = chunk.len(),
                        Some(offset) => {
                            at += offset;
                            if chunk[at] == b'\\' {
                                self.escaped = true;
                                at += 1;
                            } else {
                                self.in_string = false;
                                at += 1;
                                if self.depth == 0 {
                                    self.complete(chunk, from, at, &mut element)?;
                                }
                            }
                        }
                    }
                }
                State::Element => match byte {
                    b'"' => {
                        self.in_string = true;
                        at += 1;
                    }
                    b'{' | b'[' => {
                        self.depth += 1;
                        at += 1;
                    }
                    b'}' | b']' if self.depth > 0 => {
                        self.depth -= 1;
                        at += 1;
                        if self.depth == 0 {
                            self.complete(chunk, from, at, &mut element)?;
                        }
                    }
                    // A number or literal ends where the separator (or the array's end) begins,
                    // which is then scanned as such.
                    b',' | b']' | b'}' if self.depth == 0 => self.complete(chunk, from, at, &mut element)?,
                    _ if is_whitespace(byte) && self.depth == 0 => self.complete(chunk, from, at, &mut element)?,
                    _ => at += 1,
                },
                State::Separator => {
                    match byte {
                        b',' => self.state = State::NextElement,
                        b']' => self.state = State::Done,
                        _ if is_whitespace(byte) => {}
                        _ => return Err(self.malformed("an element is not followed by a comma or the array's end")),
                    }
                    at += 1;
                }
                State::Done => {
                    if !is_whitespace(byte) {
                        return Err(self.malformed("something follows the array's end"));
                    }
                    at += 1;
                }
            }
        }
        if self.state == State::Element {
            self.partial.extend_from_slice(&chunk[from..]);
            #[cfg(test)]
            {
                self.peak_partial = self.peak_partial.max(self.partial.len());
            }
        }
        Ok(())
    }

    /// After the last chunk: how many elements the array had, or why it was not whole.
    pub(crate) fn finish(&self) -> Result<u64, SplitError> {
        match self.state {
            State::Done => Ok(self.index),
            // A number or literal as the last bytes is still an element cut short: no `]` came.
            State::Element => Err(SplitError::Ended { index: self.index, inside: true }),
            _ => Err(SplitError::Ended { index: self.index, inside: false }),
        }
    }

    /// The element that ends at `end` (exclusive) in `chunk`, begun at `from` or in `partial`.
    fn complete<E>(
        &mut self,
        chunk: &[u8],
        from: usize,
        end: usize,
        element: &mut impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), Fault<E>> {
        let index = self.index;
        self.index += 1;
        self.state = State::Separator;
        let outcome = if self.partial.is_empty() {
            element(index, &chunk[from..end])
        } else {
            self.partial.extend_from_slice(&chunk[from..end]);
            #[cfg(test)]
            {
                self.peak_partial = self.peak_partial.max(self.partial.len());
            }
            let outcome = element(index, &self.partial);
            self.partial.clear();
            outcome
        };
        outcome.map_err(Fault::Element)
    }

    fn malformed<E>(&self, reason: &'static str) -> Fault<E> {
        Fault::Split(SplitError::Malformed { index: self.index, reason })
    }
}

/// Why [`ArraySplitter::feed`] stopped: the array, or the caller's handling of an element.
#[derive(Debug)]
pub(crate) enum Fault<E> {
    Split(SplitError),
    Element(E),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `chunks` (fed in order) into the elements' text, or the split error.
    fn split(chunks: &[&[u8]]) -> Result<Vec<String>, SplitError> {
        let mut splitter = ArraySplitter::new();
        let mut elements = Vec::new();
        for chunk in chunks {
            let fed = splitter.feed(chunk, |index, bytes| {
                assert_eq!(index, elements.len() as u64, "indexes count up");
                elements.push(String::from_utf8(bytes.to_vec()).expect("UTF-8"));
                Ok::<(), ()>(())
            });
            match fed {
                Ok(()) => {}
                Err(Fault::Split(error)) => return Err(error),
                Err(Fault::Element(())) => unreachable!("the callback never fails"),
            }
        }
        splitter.finish()?;
        Ok(elements)
    }

    /// [`split`] of one chunk.
    fn one(chunk: &[u8]) -> Result<Vec<String>, SplitError> {
        split(&[chunk])
    }

    /// Every way of cutting `text` into two chunks, and into chunks of one byte, gives `expected`.
    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        let bytes = text.as_bytes();
        let expected: Result<Vec<String>, SplitError> =
            Ok(expected.iter().map(|element| (*element).to_owned()).collect());
        assert_eq!(split(&[bytes]), expected, "in one chunk: {text}");
        for cut in 0..=bytes.len() {
            let (left, right) = bytes.split_at(cut);
            assert_eq!(split(&[left, right]), expected, "cut at {cut}: {text}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(split(&bytewise), expected, "byte by byte: {text}");
    }

    #[test]
    fn objects_come_out_one_by_one_wherever_the_chunks_are_cut() {
        check(
            r#"[{"partNo":"A","quantity":1},{"partNo":"B","quantity":2.5}]"#,
            &[r#"{"partNo":"A","quantity":1}"#, r#"{"partNo":"B","quantity":2.5}"#],
        );
    }

    #[test]
    fn brackets_braces_commas_and_quotes_inside_strings_do_not_count() {
        check(
            r#"[{"note":"a ] b } c , d [ e { f"},{"x":"\"quoted\" ]"}]"#,
            &[r#"{"note":"a ] b } c , d [ e { f"}"#, r#"{"x":"\"quoted\" ]"}"#],
        );
    }

    #[test]
    fn escapes_are_followed_across_any_cut_including_an_escaped_backslash_before_a_quote() {
        check(
            r#"[{"path":"C:\\","next":"\\\"]"},{"u":"\u00e9\n"}]"#,
            &[r#"{"path":"C:\\","next":"\\\"]"}"#, r#"{"u":"\u00e9\n"}"#],
        );
    }

    #[test]
    fn nested_objects_and_arrays_stay_inside_their_element() {
        check(
            r#"[{"a":{"b":[1,{"c":[]}]},"d":[[]]},[1,[2]],{}]"#,
            &[r#"{"a":{"b":[1,{"c":[]}]},"d":[[]]}"#, "[1,[2]]", "{}"],
        );
    }

    #[test]
    fn whitespace_around_elements_and_the_array_is_skipped() {
        check(" \r\n[ \t{\"a\" : 1} ,\n  {\"b\":\n2}\n ] \n", &["{\"a\" : 1}", "{\"b\":\n2}"]);
    }

    #[test]
    fn numbers_literals_and_strings_are_elements_too() {
        check(r#"[12,-3.5e2, true ,null,"s,]",false]"#, &["12", "-3.5e2", "true", "null", r#""s,]""#, "false"]);
    }

    #[test]
    fn an_empty_array_has_no_elements() {
        check("[]", &[]);
        check("  [ \n ]  ", &[]);
        check("\u{feff}[]", &[]);
    }

    #[test]
    fn a_body_cut_off_ends_inside_or_before_the_element_it_reached() {
        assert_eq!(one(br#"[{"a":1},{"b":"#), Err(SplitError::Ended { index: 1, inside: true }));
        assert_eq!(one(br#"[{"a":1},"#), Err(SplitError::Ended { index: 1, inside: false }));
        assert_eq!(one(br#"[{"a":1}"#), Err(SplitError::Ended { index: 1, inside: false }));
        assert_eq!(one(b"[1,2"), Err(SplitError::Ended { index: 1, inside: true }));
        assert_eq!(one(b"["), Err(SplitError::Ended { index: 0, inside: false }));
        assert_eq!(one(b""), Err(SplitError::Ended { index: 0, inside: false }));
    }

    #[test]
    fn wrong_punctuation_is_malformed_at_the_element_it_reached() {
        let reason = |chunk: &[u8]| match one(chunk) {
            Err(SplitError::Malformed { index, .. }) => Some(index),
            _ => None,
        };
        assert_eq!(reason(br#"{"not":"an array"}"#), Some(0));
        assert_eq!(reason(br#"[{"a":1}{"b":2}]"#), Some(1));
        assert_eq!(reason(br#"[{"a":1},]"#), Some(1));
        assert_eq!(reason(br#"[,{"a":1}]"#), Some(0));
        assert_eq!(reason(br#"[{"a":1}] x"#), Some(1));
    }

    #[test]
    fn an_element_that_the_callback_refuses_stops_the_scan_with_its_error() {
        let mut splitter = ArraySplitter::new();
        let mut seen = Vec::new();
        let outcome = splitter.feed(br#"[{"a":1},{"a":"bad"},{"a":3}]"#, |index, bytes| {
            seen.push(index);
            serde_json::from_slice::<std::collections::BTreeMap<String, u32>>(bytes).map(drop).map_err(|_| index)
        });
        assert!(matches!(outcome, Err(Fault::Element(1))), "{outcome:?}");
        assert_eq!(seen, vec![0, 1]);
    }

    #[test]
    fn only_an_element_cut_by_a_chunk_boundary_is_buffered_so_memory_stays_at_one_element() {
        // 20 000 elements of about 60 bytes, fed in 4 KiB chunks: about 1.2 MB in all.
        let element =
            |index: usize| format!(r#"{{"serialNo":"G{index:07}","partNo":"P\"{index}","quantity":{index}}}"#);
        let body = format!("[{}]", (0..20_000).map(element).collect::<Vec<_>>().join(","));
        let mut splitter = ArraySplitter::new();
        let mut count = 0_usize;
        for chunk in body.as_bytes().chunks(4096) {
            splitter
                .feed(chunk, |index, bytes| {
                    assert_eq!(bytes, element(index as usize).as_bytes());
                    count += 1;
                    Ok::<(), ()>(())
                })
                .expect("a whole array");
        }
        assert_eq!(splitter.finish(), Ok(20_000));
        assert_eq!(count, 20_000);
        let longest = element(19_999).len();
        assert!(splitter.peak_partial <= longest, "held {} bytes for elements of {longest}", splitter.peak_partial);
        assert!(splitter.partial.capacity() <= 2 * longest.next_power_of_two(), "{}", splitter.partial.capacity());
    }
}
