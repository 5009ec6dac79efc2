//! The output file writer: plain, or gzip compressed on its own thread so compression
//! overlaps with reading rows from the database.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;

const CHUNK: usize = 256 * 1024;

/// gzip level: 1 (zlib-rs's fastest) keeps compression from slowing the export down on
/// a 2-core runner; CSV still shrinks to about a fifth (docs/benchmarks.md).
pub const LEVEL: u32 = 1;

/// Where encoded CSV bytes go; counts the bytes before compression.
pub struct OutputWriter {
    inner: Inner,
    written: u64,
}

enum Inner {
    Plain(BufWriter<File>),
    Gzip(PipelinedGzip),
}

impl OutputWriter {
    pub fn new(file: File, gzip: bool) -> Self {
        let inner = if gzip {
            Inner::Gzip(PipelinedGzip::new(file))
        } else {
            Inner::Plain(BufWriter::with_capacity(CHUNK, file))
        };
        OutputWriter { inner, written: 0 }
    }

    /// Bytes of CSV written so far (before compression).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes everything, waits for the compressor, and syncs the file to disk.
    pub fn finish(self) -> io::Result<()> {
        match self.inner {
            Inner::Plain(w) => {
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()
            }
            Inner::Gzip(g) => g.finish(),
        }
    }
}

impl Write for OutputWriter {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.written += buf.len() as u64;
        match &mut self.inner {
            Inner::Plain(w) => w.write_all(buf),
            Inner::Gzip(g) => g.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(w) => w.flush(),
            Inner::Gzip(_) => Ok(()), // flushed on finish
        }
    }
}

/// Collects bytes into chunks and hands them to a compressing thread through a
/// bounded channel (memory stays at a few chunks whatever the file size).
pub struct PipelinedGzip {
    buf: Vec<u8>,
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl PipelinedGzip {
    pub fn new(file: File) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
        let handle = std::thread::Builder::new()
            .name("gzip".into())
            .spawn(move || -> io::Result<()> {
                let mut gz = flate2::write::GzEncoder::new(
                    BufWriter::with_capacity(CHUNK, file),
                    flate2::Compression::new(LEVEL),
                );
                for chunk in rx {
                    gz.write_all(&chunk)?;
                }
                let w = gz.finish()?;
                let f = w.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()
            })
            .expect("spawn gzip thread");
        PipelinedGzip {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(chunk).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // the thread stopped: its error says why
            Err(self.join_error())
        }
    }

    fn join_error(&mut self) -> io::Error {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the gzip compressor stopped"),
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the gzip compressor stopped")),
        }
    }
}

impl Write for PipelinedGzip {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn gzip_round_trip_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.gz");
        let mut w = OutputWriter::new(File::create(&p).unwrap(), true);
        let line = b"12345,hello,\"quoted\"\r\n";
        for _ in 0..50_000 {
            w.write_all(line).unwrap();
        }
        w.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(File::open(&p).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), line.len() * 50_000);
        assert!(out.starts_with(line));
    }
}
