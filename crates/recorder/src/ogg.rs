//! Ogg pages (RFC 3533): writing, parsing with CRC check, and scanning a damaged file.
//!
//! Written here rather than taken from a crate because the recorder's crash safety is
//! defined in pages: every write is one whole page, and repair keeps exactly the
//! prefix of pages whose CRC verifies.

/// Capture pattern at the start of every page.
pub const CAPTURE: &[u8; 4] = b"OggS";
/// Header-type flag: the first packet on the page continues one from the previous page.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Header-type flag: beginning of stream.
pub const FLAG_BOS: u8 = 0x02;
/// Header-type flag: end of stream.
pub const FLAG_EOS: u8 = 0x04;
/// Fixed page header length before the segment table, bytes.
pub const HEADER_LEN: usize = 27;
/// Largest possible page: header, 255 lacing values, 255 * 255 body bytes.
pub const MAX_PAGE: usize = HEADER_LEN + 255 + 255 * 255;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut j = 0;
        while j < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            j += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// Ogg CRC-32 (polynomial 0x04c11db7, no reflection, initial value 0).
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

/// Continues a CRC over more bytes, so a page can be checked in pieces.
fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    data.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[(((crc >> 24) as u8) ^ b) as usize]
    })
}

/// CRC of a serialised page as if its CRC field (bytes 22..26) were zero.
fn page_crc(page: &[u8]) -> u32 {
    let crc = crc32_update(0, &page[..22]);
    let crc = crc32_update(crc, &[0; 4]);
    crc32_update(crc, &page[26..])
}

/// Serialises one page holding whole `packets` into `out`.
///
/// `granule` is the granule position after the last packet completed on this page
/// (for Opus: 48 kHz samples including pre-skip, RFC 7845 §4). Panics if the packets
/// need more than 255 lacing values (callers split earlier).
pub fn write_page(
    out: &mut Vec<u8>,
    flags: u8,
    granule: i64,
    serial: u32,
    sequence: u32,
    packets: &[&[u8]],
) {
    let start = out.len();
    let mut lacing = Vec::with_capacity(packets.len() * 2);
    for p in packets {
        lacing.extend(std::iter::repeat_n(255u8, p.len() / 255));
        lacing.push((p.len() % 255) as u8);
    }
    assert!(lacing.len() <= 255, "too many segments for one page");
    out.extend_from_slice(CAPTURE);
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(lacing.len() as u8);
    out.extend_from_slice(&lacing);
    for p in packets {
        out.extend_from_slice(p);
    }
    let crc = crc32(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// Number of lacing values a packet of `len` bytes needs.
pub fn segments_for(len: usize) -> usize {
    len / 255 + 1
}

/// A parsed page borrowing the file's bytes.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Header-type flags ([`FLAG_BOS`], [`FLAG_EOS`], [`FLAG_CONTINUED`]).
    pub flags: u8,
    /// Granule position; -1 when no packet completes on this page.
    pub granule: i64,
    /// Stream serial number.
    pub serial: u32,
    /// Page sequence number.
    pub sequence: u32,
    /// Packet pieces in order; `bool` is true when the piece ends its packet.
    pub pieces: Vec<(&'a [u8], bool)>,
    /// Total page length in bytes.
    pub len: usize,
}

/// Why a page failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The buffer ends before the page does (a write cut short).
    Incomplete,
    /// No capture pattern, wrong version, or CRC mismatch.
    Invalid(&'static str),
}

/// Parses the page at the start of `buf`, verifying its CRC.
pub fn parse_page(buf: &[u8]) -> Result<Page<'_>, PageError> {
    if buf.len() < HEADER_LEN {
        return Err(if CAPTURE.starts_with(&buf[..buf.len().min(4)]) {
            PageError::Incomplete
        } else {
            PageError::Invalid("no capture pattern")
        });
    }
    if &buf[..4] != CAPTURE {
        return Err(PageError::Invalid("no capture pattern"));
    }
    if buf[4] != 0 {
        return Err(PageError::Invalid("unsupported Ogg version"));
    }
    let nseg = buf[26] as usize;
    if buf.len() < HEADER_LEN + nseg {
        return Err(PageError::Incomplete);
    }
    let lacing = &buf[HEADER_LEN..HEADER_LEN + nseg];
    let body_len: usize = lacing.iter().map(|&l| l as usize).sum();
    let len = HEADER_LEN + nseg + body_len;
    if buf.len() < len {
        return Err(PageError::Incomplete);
    }
    let stored = u32::from_le_bytes(buf[22..26].try_into().unwrap());
    if page_crc(&buf[..len]) != stored {
        return Err(PageError::Invalid("CRC mismatch"));
    }
    let mut pieces = Vec::new();
    let mut off = HEADER_LEN + nseg;
    let mut piece_start = off;
    for &l in lacing {
        off += l as usize;
        if l < 255 {
            pieces.push((&buf[piece_start..off], true));
            piece_start = off;
        }
    }
    if piece_start < off || lacing.last() == Some(&255) {
        pieces.push((&buf[piece_start..off], false));
    }
    Ok(Page {
        flags: buf[5],
        granule: i64::from_le_bytes(buf[6..14].try_into().unwrap()),
        serial: u32::from_le_bytes(buf[14..18].try_into().unwrap()),
        sequence: u32::from_le_bytes(buf[18..22].try_into().unwrap()),
        pieces,
        len,
    })
}

/// Result of scanning a file's bytes page by page from the start.
#[derive(Debug)]
pub struct Scan<'a> {
    /// Every page that parsed and verified, in order, with its byte offset.
    pub pages: Vec<(usize, Page<'a>)>,
    /// Byte offset just past the last valid page.
    pub valid_len: usize,
    /// Why scanning stopped before the end of the buffer, if it did.
    pub stopped: Option<PageError>,
}

/// Reads consecutive valid pages from the start of `buf` and stops at the first
/// incomplete or invalid one.
pub fn scan(buf: &[u8]) -> Scan<'_> {
    let mut pages = Vec::new();
    let mut off = 0;
    let mut stopped = None;
    while off < buf.len() {
        match parse_page(&buf[off..]) {
            Ok(p) => {
                let len = p.len;
                pages.push((off, p));
                off += len;
            }
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    Scan {
        pages,
        valid_len: off,
        stopped,
    }
}

/// Rewrites the flags of the page at the start of `page` and updates its CRC in place.
pub fn set_page_flags(page: &mut [u8], flags: u8) {
    page[5] = flags;
    let crc = page_crc(page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_known_ogg_value() {
        // CRC of "OggS" with the Ogg polynomial, as computed by libogg.
        assert_eq!(crc32(b""), 0);
        let mut page = Vec::new();
        write_page(&mut page, FLAG_BOS, 0, 0x1234, 0, &[b"hello"]);
        let p = parse_page(&page).unwrap();
        assert_eq!(p.pieces, vec![(&b"hello"[..], true)]);
        assert_eq!(p.flags, FLAG_BOS);
        assert_eq!(p.serial, 0x1234);
    }

    #[test]
    fn long_packets_and_truncation_and_corruption() {
        let big = vec![7u8; 600];
        let small = vec![1u8; 10];
        let mut buf = Vec::new();
        write_page(&mut buf, 0, 960, 1, 2, &[&big, &small]);
        let p = parse_page(&buf).unwrap();
        assert_eq!(p.pieces.len(), 2);
        assert_eq!(p.pieces[0].0.len(), 600);
        assert_eq!(p.granule, 960);
        assert_eq!(
            parse_page(&buf[..buf.len() - 1]).unwrap_err(),
            PageError::Incomplete
        );
        let mut bad = buf.clone();
        bad[40] ^= 0xff;
        assert_eq!(
            parse_page(&bad).unwrap_err(),
            PageError::Invalid("CRC mismatch")
        );
        let mut two = buf.clone();
        two.extend_from_slice(&buf[..50]);
        let s = scan(&two);
        assert_eq!(s.pages.len(), 1);
        assert_eq!(s.valid_len, buf.len());
        assert_eq!(s.stopped, Some(PageError::Incomplete));
    }

    #[test]
    fn set_flags_keeps_page_valid() {
        let mut buf = Vec::new();
        write_page(&mut buf, 0, 960, 1, 2, &[b"abc"]);
        set_page_flags(&mut buf, FLAG_EOS);
        assert_eq!(parse_page(&buf).unwrap().flags, FLAG_EOS);
    }
}
