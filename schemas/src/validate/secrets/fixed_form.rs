//! The screen for credentials of a fixed form (access keys, tokens, API
//! keys, JWTs, PEM keys): one SIMD search for the literals they start with,
//! then, only where one is found, the patterns themselves where it stands.
//!
//! Ordinary metadata holds those literals often: `sk-` is in `risk-`,
//! `task-`, `disk-` and `ask-`, which no pattern matches because each wants
//! a word boundary before its prefix and a long tail after it. Sending every
//! such event to the thorough path cost it twenty times the fast path's
//! time, so a candidate is confirmed by the patterns before it counts. Most
//! candidates stand right after a letter, which one byte rules out; only the
//! others cost a run of the patterns.

use aho_corasick::{AhoCorasick, Input, Span, packed};
use regex::bytes::Regex;

use super::PATTERNS;

/// Literals, case-sensitive like [`PATTERNS`], at least one of which is in
/// every match of every pattern there: the start of the match, except for
/// GitHub's fine-grained tokens, screened for by `_pat_` because `git`
/// starts the host of nearly every repository, and each candidate found
/// costs the SIMD search a comparison.
const PREFIXES: [&str; 16] = [
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "_pat_",
    "glpat-",
    "xox",
    "sk-",
    "AIza",
    "eyJ",
    "-----BEGIN",
];

/// Whether the literal of [`PREFIXES`] at the same index starts the matches
/// of its pattern right after a word boundary (`\b`, then a word character):
/// then where it stands right after an ASCII word byte it starts no match.
/// Every match starts with a literal that is not ruled out so, or holds
/// `_pat_`, which stands inside its match and is never ruled out (nor is a
/// PEM header's, which wants no boundary).
const STARTS_AT_A_BOUNDARY: [bool; 16] = [
    true, true, true, true, true, true, true, true, true, false, true, true, true, true, true,
    false,
];

/// The most bytes a match of [`PATTERNS`] starts before the literal of
/// [`PREFIXES`] in it: `github` before `_pat_`.
const LEAD_BEFORE_PREFIX: usize = "github".len();

/// The fewest bytes a match of [`PATTERNS`] takes: a Slack token's `xoxb-`
/// and ten more. The others take more: an AWS key 20, a GitHub token 40 (a
/// fine-grained one 33), a GitLab token 26, an API key 23, a Google key 39,
/// a JWT 20, a PEM header 27. Decoded strings are mostly shorter, and need
/// no search at all.
const SHORTEST_MATCH: usize = "xoxb-".len() + 10;

/// A search for [`PREFIXES`]: SIMD (Teddy) where the processor has it.
enum PrefixSearch {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

/// Whether bytes may hold a credential of a fixed form, answered from the
/// bytes as they are, without decoding anything.
pub struct FixedFormScreen {
    prefixes: PrefixSearch,
    /// Every pattern of [`PATTERNS`] in one, with ASCII word boundaries.
    confirm: Regex,
}

impl Default for FixedFormScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl FixedFormScreen {
    /// Compiles the search and the patterns; done once per validator.
    pub fn new() -> Self {
        let prefixes = match packed::Searcher::new(PREFIXES) {
            Some(searcher) => PrefixSearch::Packed(searcher),
            None => PrefixSearch::Automaton(
                AhoCorasick::new(PREFIXES).expect("the prefixes are fixed and valid"),
            ),
        };
        // Without Unicode, `\b` looks at one byte on each side, and every
        // class of the patterns is ASCII. A boundary in text is then one in
        // its bytes too, since a character that is not a word character is
        // either such an ASCII byte or starts and ends with bytes of 0x80
        // and up, never word bytes; the reverse need not hold (`é` is a word
        // character, its bytes are not). So this matches wherever a pattern
        // of [`PATTERNS`] does, and sometimes more.
        let alternatives: Vec<String> = PATTERNS
            .iter()
            .map(|(_, pattern)| format!("(?:{pattern})"))
            .collect();
        let confirm = Regex::new(&format!("(?-u){}", alternatives.join("|")))
            .expect("the secret patterns are fixed and valid");
        FixedFormScreen { prefixes, confirm }
    }

    /// Whether `bytes` may hold a credential of a fixed form. A `false` is
    /// certain for text, and for every string of raw JSON that is written
    /// without escapes: no class of the patterns holds a quote, so a match
    /// in such a string's text is a match in the raw input, with the string's
    /// quotes as boundaries where its text starts and ends.
    pub fn may_hold(&self, bytes: &[u8]) -> bool {
        if bytes.len() < SHORTEST_MATCH {
            return false;
        }
        let mut from = 0;
        while let Some((at, literal)) = self.next_prefix(bytes, from) {
            let after_a_word_byte = at > 0 && is_word_byte(bytes[at - 1]);
            if !(STARTS_AT_A_BOUNDARY[literal] && after_a_word_byte) {
                // Every match holds a literal that is not ruled out, so at
                // or after this one, and starts at most `LEAD_BEFORE_PREFIX`
                // bytes before it: the patterns from there settle it.
                return self
                    .confirm
                    .is_match_at(bytes, at.saturating_sub(LEAD_BEFORE_PREFIX));
            }
            from = at + 1;
        }
        false
    }

    /// Where the first literal of [`PREFIXES`] at or after `from` starts,
    /// and its index.
    fn next_prefix(&self, bytes: &[u8], from: usize) -> Option<(usize, usize)> {
        let found = match &self.prefixes {
            PrefixSearch::Packed(searcher) => {
                searcher.find_in(bytes, Span::from(from..bytes.len()))
            }
            PrefixSearch::Automaton(automaton) => {
                automaton.find(Input::new(bytes).span(from..bytes.len()))
            }
        };
        found.map(|m| (m.start(), m.pattern().as_usize()))
    }
}

/// A byte that `\b` without Unicode counts as part of a word.
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the thorough path's patterns find in `text`, Unicode and all.
    fn matches_a_pattern(text: &str) -> bool {
        PATTERNS
            .iter()
            .any(|(_, pattern)| regex::Regex::new(pattern).unwrap().is_match(text))
    }

    #[test]
    fn words_that_hold_a_prefix_are_not_credentials() {
        let screen = FixedFormScreen::new();
        for text in [
            "risk-management",
            "task-runner-with-a-long-enough-tail-to-count",
            "disk-sk-cleanup",
            "ask-bot",
            "desk-0123456789abcdefghijklmnop",
            "reflexoxb-0123456789",
            "MAKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLEX",
        ] {
            assert!(!matches_a_pattern(text), "{text}");
            assert!(!screen.may_hold(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn credentials_at_a_word_boundary_are_found_wherever_they_stand() {
        let screen = FixedFormScreen::new();
        let key = "sk-ant-0123456789abcdefghijklmnop";
        for text in [
            key.to_string(),
            format!("risk-management {key}"),
            format!("task-runner/{key}"),
            format!("\"{key}\""),
            format!("–{key}"),
            format!("a repo/github_pat_{}", "a".repeat(22)),
        ] {
            assert!(matches_a_pattern(&text), "{text}");
            assert!(screen.may_hold(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn no_credential_is_shorter_than_the_shortest_match() {
        let screen = FixedFormScreen::new();
        let shortest = [
            "xoxb-0123456789",
            "AKIA0123456789ABCDEF",
            "sk-0123456789abcdefghij",
            "eyJabcde.fghij.klmno",
            "-----BEGIN PRIVATE KEY-----",
        ];
        for text in shortest {
            assert!(matches_a_pattern(text), "{text}");
            assert!(screen.may_hold(text.as_bytes()), "{text}");
            assert!(!matches_a_pattern(&text[1..]), "{text}");
            assert!(!matches_a_pattern(&text[..text.len() - 1]), "{text}");
        }
        assert_eq!(shortest[0].len(), SHORTEST_MATCH);
    }

    #[test]
    fn a_non_ascii_letter_before_a_prefix_is_a_boundary_for_bytes_only() {
        // `é` is a word character, so the patterns see no boundary before
        // `sk-`; its bytes are not, so the screen says "maybe", which the
        // patterns then settle.
        let text = "ésk-0123456789abcdefghijklmnop";
        assert!(!matches_a_pattern(text));
        assert!(FixedFormScreen::new().may_hold(text.as_bytes()));
    }

    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "sk-",
            "sk-ant-",
            "sk-proj-",
            "risk-",
            "task-",
            "di",
            "a",
            "é",
            "日",
            "\u{a0}",
            "–",
            " ",
            "-",
            "_",
            "/",
            ".",
            "\"",
            "AKIA",
            "ASIA",
            "IOSFODNN7EXAMPLE",
            "Z",
            "ghp_",
            "github",
            "_pat_",
            "glpat-",
            "xoxb-",
            "AIza",
            "eyJ",
            "eyJhbGciOi",
            "0123456789abcdefghij",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            "-----BEGIN ",
            "RSA ",
            "PRIVATE KEY",
            "-----",
        ]);
        prop::collection::vec(pieces, 0..10).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn the_screen_says_maybe_wherever_a_pattern_matches(text in tricky_text()) {
            let screen = FixedFormScreen::new();
            if matches_a_pattern(&text) {
                prop_assert!(screen.may_hold(text.as_bytes()), "{}", text);
            }
            // The same text as a JSON string among others, written without
            // escapes: screened where it stands in the raw input.
            if !text.contains('"') {
                let raw = format!(r#"{{"a":"risk-x","b":"{text}","c":"ask-sk-"}}"#);
                prop_assert_eq!(
                    screen.may_hold(raw.as_bytes()),
                    screen.may_hold(text.as_bytes()),
                    "{}", raw
                );
            }
        }
    }
}
