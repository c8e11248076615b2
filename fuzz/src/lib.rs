//! Shared helpers of the fuzz targets: chunking derived from the input, feeding a
//! `tokio_util` decoder the way `FramedRead` does, and an allocator that turns an
//! oversized allocation into a crash libFuzzer records.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

/// How a stream is cut into the reads a decoder sees, derived from one seed byte:
/// `seed & 3` picks the mode (whole, byte by byte, small random reads, large random
/// reads) and the other bits seed the random sizes.
pub fn chunk_sizes(seed: u8, len: usize) -> Vec<usize> {
    let mut rng = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    let mut next = move |max: usize| {
        // xorshift32: deterministic, allocation-free, good enough to vary the cuts.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        1 + (rng as usize) % max
    };
    let max = match seed & 3 {
        0 => return vec![len.max(1)],
        1 => 1,
        2 => 8,
        _ => 256,
    };
    let mut sizes = Vec::new();
    let mut total = 0;
    while total < len {
        let size = if max == 1 { 1 } else { next(max) };
        sizes.push(size);
        total += size;
    }
    sizes
}

/// What a decoder made of a whole stream.
#[derive(Debug)]
pub struct Decoded<T> {
    /// Every item, in order, up to the first error.
    pub items: Vec<T>,
    /// The error that ended the stream (rendered), if any, and whether it came at EOF.
    pub error: Option<(String, bool)>,
    /// The most bytes left buffered after a `decode` call returned `Ok(None)`.
    pub max_buffered: usize,
    /// The largest read fed at once.
    pub max_chunk: usize,
}

/// Feeds `stream` to `decoder` in reads of `sizes` (the last one takes the rest), calling
/// `decode` after each read until it has nothing more, then `decode_eof` at the end, as
/// `FramedRead` does. An error ends the stream, as it ends a `FramedRead`.
pub fn feed<D>(decoder: &mut D, stream: &[u8], sizes: &[usize]) -> Decoded<D::Item>
where
    D: Decoder,
    D::Error: Display,
{
    let mut out = Decoded { items: Vec::new(), error: None, max_buffered: 0, max_chunk: 0 };
    let mut buf = BytesMut::new();
    let mut rest = stream;
    let mut sizes = sizes.iter().copied();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        out.max_chunk = out.max_chunk.max(chunk.len());
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => out.items.push(item),
                Ok(None) => break,
                Err(error) => {
                    out.error = Some((error.to_string(), false));
                    return out;
                }
            }
        }
        out.max_buffered = out.max_buffered.max(buf.len());
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(item)) => out.items.push(item),
            Ok(None) => break,
            Err(error) => {
                out.error = Some((error.to_string(), true));
                break;
            }
        }
        // `decode_eof` may keep returning items from a buffer it no longer consumes.
        if out.items.len() > stream.len() + 1 {
            panic!("decode_eof yields items forever ({} items from {} bytes)", out.items.len(), stream.len());
        }
    }
    out
}

/// Largest single allocation allowed; `usize::MAX` until a target sets it.
static MAX_ALLOCATION: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Most bytes allowed live at once.
static MAX_LIVE: AtomicUsize = AtomicUsize::new(usize::MAX);
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Sets the caps of [`CappedAlloc`]: no single allocation above `single` bytes and no more
/// than `live` bytes allocated at once. Past either the process aborts, which libFuzzer
/// records as a crash with its input.
pub fn cap_allocations(single: usize, live: usize) {
    MAX_ALLOCATION.store(single, Ordering::Relaxed);
    MAX_LIVE.store(live, Ordering::Relaxed);
}

/// The system allocator with the caps of [`cap_allocations`]. A target installs it with
/// `#[global_allocator] static ALLOC: CappedAlloc = CappedAlloc;`.
pub struct CappedAlloc;

impl CappedAlloc {
    fn admit(size: usize) {
        if size > MAX_ALLOCATION.load(Ordering::Relaxed) {
            over_cap(b"fuzz: a single allocation of ", size, b" bytes is over the cap\n");
        }
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if live > MAX_LIVE.load(Ordering::Relaxed) {
            over_cap(b"fuzz: live allocations reached ", live, b" bytes, over the cap\n");
        }
    }
}

/// Reports an oversized allocation without allocating, then aborts.
fn over_cap(before: &[u8], n: usize, after: &[u8]) -> ! {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(before);
    let _ = stderr.write_all(&digits[i..]);
    let _ = stderr.write_all(after);
    std::process::abort()
}

unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::admit(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::admit(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::admit(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}
