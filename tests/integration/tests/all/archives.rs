//! Hand-made tar archives, including hostile ones that a normal tar writer
//! refuses to produce (`..` names, absolute names, devices, sparse files).

/// One raw ustar header plus content, with the name and link bytes written
/// as given.
pub fn entry(name: &[u8], kind: u8, link: &[u8], data: &[u8], claimed_size: Option<u64>) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    let size = claimed_size.unwrap_or(data.len() as u64);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = kind;
    h[157..157 + link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// An octal numeric field; values too wide for it use the GNU base-256
/// form (high bit set), as real tar writers do for files over 8 GiB.
fn octal(field: &mut [u8], v: u64) {
    let digits = format!("{v:o}");
    if digits.len() < field.len() {
        let s = format!("{:0width$o}\0", v, width = field.len() - 1);
        field.copy_from_slice(s.as_bytes());
    } else {
        field.fill(0);
        field[0] = 0x80;
        let n = field.len();
        field[n - 8..].copy_from_slice(&v.to_be_bytes());
    }
}

/// Concatenate entries and the end-of-archive blocks.
pub fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn file(name: &str, data: &[u8]) -> Vec<u8> {
    entry(name.as_bytes(), b'0', b"", data, None)
}
pub fn dir(name: &str) -> Vec<u8> {
    entry(name.as_bytes(), b'5', b"", b"", None)
}
pub fn symlink(name: &str, target: &str) -> Vec<u8> {
    entry(name.as_bytes(), b'2', target.as_bytes(), b"", None)
}

/// A well-formed archive: a directory, two files, an inside symlink.
pub fn good() -> Vec<u8> {
    archive(&[
        dir("pkg/"),
        file("pkg/a.txt", b"alpha\n"),
        file("pkg/sub/b.txt", b"beta\n"),
        symlink("pkg/link", "a.txt"),
    ])
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The hostile archives, each with what must happen to it.
pub fn hostile() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let many: Vec<Vec<u8>> = (0..1001).map(|i| file(&format!("f{i}"), b"")).collect();
    vec![
        ("dotdot", archive(&[file("ok.txt", b"x"), file("../escape.txt", b"evil")]), "invalid-argument"),
        ("absolute", archive(&[file("/tmp/evil.txt", b"evil")]), "invalid-argument"),
        ("nested-dotdot", archive(&[file("a/../../escape.txt", b"evil")]), "invalid-argument"),
        ("symlink-absolute", archive(&[symlink("etc", "/etc")]), "invalid-argument"),
        ("symlink-climb", archive(&[symlink("up", "../..")]), "invalid-argument"),
        (
            "symlink-then-write-through",
            archive(&[symlink("inside", "."), file("inside/../../evil.txt", b"x")]),
            "invalid-argument",
        ),
        ("write-below-symlink", archive(&[symlink("d", "sub"), file("d/evil.txt", b"x")]), "invalid-argument"),
        ("replace-symlink", archive(&[symlink("x", "y"), file("x", b"data")]), "invalid-argument"),
        ("hard-link-out", archive(&[entry(b"hard", b'1', b"/etc/passwd", b"", None)]), "invalid-argument"),
        ("char-device", archive(&[entry(b"null", b'3', b"", b"", None)]), "invalid-argument"),
        ("block-device", archive(&[entry(b"disk", b'4', b"", b"", None)]), "invalid-argument"),
        ("fifo", archive(&[entry(b"pipe", b'6', b"", b"", None)]), "invalid-argument"),
        ("sparse-bomb", archive(&[entry(b"sparse", b'S', b"", b"", Some(10 << 30))]), "invalid-argument"),
        ("claims-10g", archive(&[entry(b"big", b'0', b"", b"", Some(10 << 30))]), "too-large"),
        ("too-many-members", archive(&many), "too-large"),
        ("truncated", good()[..700].to_vec(), "invalid-argument"),
        (
            "garbage",
            b"this is not a tar archive at all, just text that goes on and on ........".repeat(10),
            "invalid-argument",
        ),
    ]
}

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
