//! A tiny JSON object writer (keeps the component small: no serde).

/// A JSON object under construction; keys keep insertion order.
pub struct Obj(Vec<(String, String)>);

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // The short forms serde_json, Python's json and JSON.stringify
            // write, so the four example agents' reports stay identical.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Obj {
    pub fn new() -> Self {
        Obj(Vec::new())
    }
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.0.push((k.into(), quote(v)));
        self
    }
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.0.push((k.into(), v.to_string()));
        self
    }
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.0.push((k.into(), v.to_string()));
        self
    }
    pub fn strs(&mut self, k: &str, v: &[String]) -> &mut Self {
        let items: Vec<String> = v.iter().map(|s| quote(s)).collect();
        self.0.push((k.into(), format!("[{}]", items.join(","))));
        self
    }
    pub fn obj(&mut self, k: &str, v: &mut Obj) -> &mut Self {
        let s = v.finish();
        self.0.push((k.into(), s));
        self
    }
    pub fn finish(&mut self) -> String {
        let fields: Vec<String> = self.0.iter().map(|(k, v)| format!("{}:{v}", quote(k))).collect();
        format!("{{{}}}", fields.join(","))
    }
}
