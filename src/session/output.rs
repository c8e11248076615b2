//! The program's output in whole lines.
//!
//! ptvsd forwards output as the program writes it, one message per `write()`: a `print`
//! arrives as its text and then, separately, `"\n"`. An editor that shows the latest
//! `output` event in a one-line status (Helix) then flashes an empty line after every
//! print. [`OutputLines`] turns those pieces into events that end at a line end: complete
//! lines go out at once, a partial line waits for the rest of it, for [`PARTIAL_LINE_DELAY`]
//! at most (a prompt such as `input("name: ")` still shows), or until it grows past
//! [`PARTIAL_LINE_MAX`].
//!
//! Order is kept: output of another category (stdout and stderr are never merged into
//! one event) first sends the pending partial line of the previous one, and the session
//! sends what is pending before any other event (see `Session::program_output`), so a
//! stop never overtakes the output printed before it. Nothing is lost: [`OutputLines::flush`]
//! hands out whatever is left. A chunk longer than [`EVENT_TEXT_MAX`] goes out as several
//! events ([`Chunk::pieces`]).
//!
//! Owns: the pending partial line and its category. Must not know: DAP messages, ptvsd,
//! or clocks (the caller passes `now`).

use std::time::Duration;

use tokio::time::Instant;

/// How long a partial line waits for the rest of it.
pub const PARTIAL_LINE_DELAY: Duration = Duration::from_millis(50);
/// A partial line longer than this is sent without waiting (bytes).
pub const PARTIAL_LINE_MAX: usize = 64 * 1024;

/// The most text one `output` event carries (bytes): a longer chunk goes out as several
/// events, so that the messages queued for a slow editor hold a bounded number of bytes.
pub const EVENT_TEXT_MAX: usize = 16 * 1024;

/// One `output` event's worth of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub category: &'static str,
    pub text: String,
}

impl Chunk {
    /// This chunk as pieces of at most `max` bytes (at least one character each), each
    /// ending at its last line end within the bound when it has one, in order.
    pub fn pieces(self, max: usize) -> Vec<Chunk> {
        if self.text.len() <= max {
            return vec![self];
        }
        // Each piece is copied out once from the front (cutting the rest off the String
        // at every piece would copy the tail again and again).
        let mut pieces = Vec::new();
        let mut rest = self.text.as_str();
        while rest.len() > max {
            let mut cut = max;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if let Some(end) = rest[..cut].rfind('\n') {
                cut = end + 1;
            }
            if cut == 0 {
                cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
            }
            let (piece, tail) = rest.split_at(cut);
            pieces.push(Chunk { category: self.category, text: piece.to_owned() });
            rest = tail;
        }
        if !rest.is_empty() {
            pieces.push(Chunk { category: self.category, text: rest.to_owned() });
        }
        pieces
    }
}

/// Coalesces write-sized pieces of output into whole lines (see the module docs).
#[derive(Debug, Default)]
pub struct OutputLines {
    /// The partial line not sent yet: its category, text and when its first piece came.
    partial: Option<(&'static str, String, Instant)>,
}

impl OutputLines {
    /// Takes one piece of output; returns the events to send now, in order.
    pub fn push(&mut self, category: &'static str, text: &str, now: Instant) -> Vec<Chunk> {
        let mut out = Vec::new();
        if text.is_empty() {
            return out;
        }
        let (mut pending, since) = match self.partial.take() {
            Some((previous, pending, since)) if previous == category => (pending, since),
            Some((previous, pending, _)) => {
                out.push(Chunk { category: previous, text: pending });
                (String::new(), now)
            }
            None => (String::new(), now),
        };
        pending.push_str(text);
        match pending.rfind('\n') {
            Some(end) => {
                let rest = pending.split_off(end + 1);
                out.push(Chunk { category, text: pending });
                if !rest.is_empty() {
                    self.keep(category, rest, now, &mut out);
                }
            }
            None => self.keep(category, pending, since, &mut out),
        }
        out
    }

    fn keep(&mut self, category: &'static str, text: String, since: Instant, out: &mut Vec<Chunk>) {
        if text.len() > PARTIAL_LINE_MAX {
            out.push(Chunk { category, text });
        } else {
            self.partial = Some((category, text, since));
        }
    }

    /// When the pending partial line is due, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.partial.as_ref().map(|(_, _, since)| *since + PARTIAL_LINE_DELAY)
    }

    /// The pending partial line if its time has come.
    pub fn due(&mut self, now: Instant) -> Option<Chunk> {
        if self.deadline().is_some_and(|d| d <= now) {
            self.flush()
        } else {
            None
        }
    }

    /// Whatever is pending, now.
    pub fn flush(&mut self) -> Option<Chunk> {
        self.partial.take().map(|(category, text, _)| Chunk { category, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(category: &'static str, text: &str) -> Chunk {
        Chunk { category, text: text.to_string() }
    }

    #[test]
    fn a_long_chunk_is_cut_at_line_ends_within_the_bound_and_never_inside_a_character() {
        let pieces =
            |text: &str, max| chunk("stdout", text).pieces(max).into_iter().map(|c| c.text).collect::<Vec<_>>();
        assert_eq!(pieces("short\n", 16), ["short\n"]);
        assert_eq!(pieces("ab\ncd\nef\n", 7), ["ab\ncd\n", "ef\n"]);
        // No line end within the bound: cut at the bound, on a character boundary.
        assert_eq!(pieces("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(pieces("aé€x", 4), ["aé", "€x"]);
        // A character longer than the bound still goes out whole.
        assert_eq!(pieces("€€", 2), ["€", "€"]);
        let long = "x".repeat(EVENT_TEXT_MAX * 3 + 5);
        let cut = pieces(&long, EVENT_TEXT_MAX);
        assert!(cut.iter().all(|p| p.len() <= EVENT_TEXT_MAX) && cut.concat() == long, "{:?}", cut.len());
    }

    #[test]
    fn a_print_written_as_text_then_newline_is_one_event() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        assert_eq!(lines.push("stdout", "hello", t), vec![]);
        assert_eq!(lines.push("stdout", "\n", t), vec![chunk("stdout", "hello\n")]);
        assert_eq!(lines.deadline(), None);
    }

    #[test]
    fn complete_lines_go_out_at_once_and_the_tail_waits() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        assert_eq!(lines.push("stdout", "a\nb\nc", t), vec![chunk("stdout", "a\nb\n")]);
        assert_eq!(lines.deadline(), Some(t + PARTIAL_LINE_DELAY));
        assert_eq!(lines.push("stdout", "d\n", t), vec![chunk("stdout", "cd\n")]);
    }

    #[test]
    fn a_partial_line_is_sent_after_the_delay_counted_from_its_first_piece() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        lines.push("stdout", "name: ", t);
        lines.push("stdout", ">", t + PARTIAL_LINE_DELAY / 2);
        assert_eq!(lines.deadline(), Some(t + PARTIAL_LINE_DELAY));
        assert_eq!(lines.due(t + PARTIAL_LINE_DELAY / 2), None);
        assert_eq!(lines.due(t + PARTIAL_LINE_DELAY), Some(chunk("stdout", "name: >")));
        assert_eq!(lines.deadline(), None);
    }

    #[test]
    fn the_tail_after_a_line_end_waits_from_when_it_came() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        lines.push("stdout", "x", t);
        let later = t + PARTIAL_LINE_DELAY * 3;
        assert_eq!(lines.push("stdout", "\ny", later), vec![chunk("stdout", "x\n")]);
        assert_eq!(lines.deadline(), Some(later + PARTIAL_LINE_DELAY));
    }

    #[test]
    fn stdout_and_stderr_are_never_merged_and_keep_their_order() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        assert_eq!(lines.push("stdout", "out", t), vec![]);
        assert_eq!(lines.push("stderr", "err\n", t), vec![chunk("stdout", "out"), chunk("stderr", "err\n")]);
        assert_eq!(lines.push("stderr", "e2", t), vec![]);
        assert_eq!(lines.push("stdout", "o2\n", t), vec![chunk("stderr", "e2"), chunk("stdout", "o2\n")]);
        assert_eq!(lines.flush(), None);
    }

    #[test]
    fn a_huge_partial_line_is_not_held() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        let big = "x".repeat(PARTIAL_LINE_MAX + 1);
        assert_eq!(lines.push("stdout", &big, t), vec![chunk("stdout", &big)]);
        assert_eq!(lines.flush(), None);
    }

    #[test]
    fn empty_pieces_change_nothing() {
        let mut lines = OutputLines::default();
        let t = Instant::now();
        lines.push("stdout", "a", t);
        assert_eq!(lines.push("stderr", "", t), vec![]);
        assert_eq!(lines.flush(), Some(chunk("stdout", "a")));
    }

    #[test]
    fn nothing_is_lost_and_order_is_kept_for_any_split() {
        // Every way of cutting a mixed transcript into pieces gives back the same text,
        // per category and in order, with no event of one category holding another's.
        let pieces = [
            ("stdout", "one\ntw"),
            ("stdout", "o"),
            ("stderr", "E1\n"),
            ("stdout", "\nthree"),
            ("stderr", "E2"),
            ("stdout", "\n"),
        ];
        for cut in 0..(1 << pieces.len()) {
            let mut lines = OutputLines::default();
            let t = Instant::now();
            let mut got = Vec::new();
            for (i, (category, text)) in pieces.iter().enumerate() {
                got.extend(lines.push(category, text, t));
                if cut & (1 << i) != 0 {
                    got.extend(lines.due(t + PARTIAL_LINE_DELAY));
                }
            }
            got.extend(lines.flush());
            let stdout: String = got.iter().filter(|c| c.category == "stdout").map(|c| c.text.as_str()).collect();
            let stderr: String = got.iter().filter(|c| c.category == "stderr").map(|c| c.text.as_str()).collect();
            assert_eq!(stdout, "one\ntwo\nthree\n", "cut {cut:b}");
            assert_eq!(stderr, "E1\nE2", "cut {cut:b}");
            let all: String = got.iter().map(|c| c.text.as_str()).collect();
            assert_eq!(all, "one\ntwoE1\n\nthreeE2\n", "cut {cut:b}");
            assert!(got.iter().all(|c| !c.text.is_empty()), "cut {cut:b}");
        }
    }
}
