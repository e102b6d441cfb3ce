//! Server-sent events, as streamed completions arrive: `data:` lines
//! joined until a blank line, comments (`:`) skipped, LF or CRLF line ends,
//! events split across reads at any byte.

/// Longest event kept; a longer one is an error (a runaway stream).
const MAX_EVENT: usize = 4 << 20;

/// Turns bytes into the `data` of each event.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseParser {
    /// Feed bytes; returns the events completed by them.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        let mut events = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                if self.line.len() > MAX_EVENT {
                    return Err(format!("a streamed event is over {MAX_EVENT} bytes"));
                }
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            if let Some(e) = self.line_done(&line)? {
                events.push(e);
            }
        }
        Ok(events)
    }

    /// The end of the stream: an event not yet closed by a blank line.
    pub(crate) fn finish(&mut self) -> Result<Option<String>, String> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty()
            && let Some(e) = self.line_done(&line)?
        {
            return Ok(Some(e));
        }
        self.line_done(b"")
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<String>, String> {
        if line.is_empty() {
            if !self.has_data {
                return Ok(None);
            }
            self.has_data = false;
            let data = std::mem::take(&mut self.data);
            return String::from_utf8(data).map(Some).map_err(|_| "a streamed event is not UTF-8".to_string());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        if field == b"data" {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
            if self.data.len() > MAX_EVENT {
                return Err(format!("a streamed event is over {MAX_EVENT} bytes"));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere() {
        let text =
            b": keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\n: ping\n\ndata: [DONE]";
        for cut in 0..text.len() {
            let mut p = SseParser::default();
            let mut events = p.feed(&text[..cut]).unwrap();
            events.extend(p.feed(&text[cut..]).unwrap());
            events.extend(p.finish().unwrap());
            assert_eq!(events, ["{\"a\":1}", "line1\nline2", "[DONE]"], "cut at {cut}");
        }
    }
}
