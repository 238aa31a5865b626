//! Splitting gRPC length-prefixed messages out of HTTP/2 body data, for the journal (which keeps
//! each message, both ways) and for faults (which cut streams between messages).

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

/// A message as it went over the wire: its bytes (after the 5-byte gRPC prefix), and whether
/// they were compressed.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) compressed: bool,
    pub(crate) bytes: Bytes,
}

/// Whole messages copied out of body data together: their frames, back to back.
#[derive(Debug)]
pub(crate) struct Whole(Bytes);

impl Whole {
    /// Each message: where its bytes (after the prefix) are in [`bytes`](Self::bytes), and
    /// whether they are compressed.
    pub(crate) fn messages(&self) -> impl Iterator<Item = (Range<usize>, bool)> + '_ {
        messages(&self.0)
    }

    pub(crate) fn bytes(&self) -> &Bytes {
        &self.0
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// Each whole message in `frames`: where its bytes (after the prefix) are, and whether they are
/// compressed.
pub(crate) fn messages(frames: &[u8]) -> impl Iterator<Item = (Range<usize>, bool)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let len = whole_frame(&frames[start..])?;
        let message = (start + 5..start + len, frames[start] == 1);
        start += len;
        Some(message)
    })
}

/// Splits gRPC length-prefixed messages out of body data.
///
/// The messages a chunk completes are copied out of it together, into one [`Whole`]: a slice
/// of the chunk itself would keep the whole read buffer it came in alive for as long as the
/// journal keeps the message, and a copy each would cost a stream one allocation a message. A
/// message split across chunks is joined first.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The latest chunk, not yet copied anywhere.
    chunk: Bytes,
    /// Parts of a message that spans chunks, joined.
    joined: BytesMut,
}

impl Frames {
    /// Takes a chunk of body data and passes the messages it completes to `whole`.
    pub(crate) fn feed(&mut self, data: &Bytes, mut whole: impl FnMut(Whole)) {
        if self.joined.is_empty() && self.chunk.is_empty() {
            // The usual case: the chunk starts a message. Its whole messages are copied out
            // together; only an unfinished one is kept.
            let mut end = 0;
            while let Some(len) = whole_frame(&data[end..]) {
                end += len;
            }
            if end > 0 {
                whole(Whole(copy(&data[..end])));
            }
            if end < data.len() {
                self.chunk = data.slice(end..);
            }
            return;
        }
        self.push(data.clone());
        while let Some(frame) = self.next_frame() {
            whole(Whole(copy(&frame)));
        }
    }

    /// Takes a chunk of body data; [`next_frame`](Self::next_frame) then splits it.
    pub(crate) fn push(&mut self, mut data: impl Buf) {
        if self.joined.is_empty() && self.chunk.is_empty() {
            self.chunk = data.copy_to_bytes(data.remaining());
            return;
        }
        self.join_chunk();
        while data.has_remaining() {
            let part = data.chunk();
            let len = part.len();
            self.joined.extend_from_slice(part);
            data.advance(len);
        }
    }

    /// The next whole message, its 5-byte prefix included.
    pub(crate) fn next_frame(&mut self) -> Option<Bytes> {
        if self.joined.is_empty() {
            let len = whole_frame(&self.chunk)?;
            return Some(self.chunk.split_to(len));
        }
        self.join_chunk();
        let len = whole_frame(&self.joined)?;
        Some(self.joined.split_to(len).freeze())
    }

    /// What is left of an incomplete message.
    pub(crate) fn take_rest(&mut self) -> Bytes {
        self.join_chunk();
        self.joined.split().freeze()
    }

    fn join_chunk(&mut self) {
        if !self.chunk.is_empty() {
            self.joined.extend_from_slice(&std::mem::take(&mut self.chunk));
        }
    }
}

/// A copy of whole frames. A lone empty message, the frame of an `Empty` or a default request,
/// needs none: its five bytes are always the same.
fn copy(frames: &[u8]) -> Bytes {
    match frames {
        [0, 0, 0, 0, 0] => Bytes::from_static(&EMPTY),
        _ => Bytes::copy_from_slice(frames),
    }
}

/// The frame of an empty, uncompressed message.
static EMPTY: [u8; 5] = [0; 5];

/// The length of the message at the start of `data`, prefix included, if all of it is there.
fn whole_frame(data: &[u8]) -> Option<usize> {
    let prefix = data.get(..5)?;
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
    let len = 5 + usize::try_from(len).ok()?;
    (data.len() >= len).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages `data` completes, each as (bytes, compressed), and the copies they are in.
    fn feed(frames: &mut Frames, data: &Bytes) -> (Vec<Message>, Vec<Bytes>) {
        let (mut messages, mut copies) = (Vec::new(), Vec::new());
        frames.feed(data, |whole| {
            for (range, compressed) in whole.messages() {
                messages.push(Message { compressed, bytes: whole.bytes().slice(range) });
            }
            copies.push(whole.into_bytes());
        });
        (messages, copies)
    }

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut frame = vec![0];
        frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
        frame.extend_from_slice(message);
        frame
    }

    #[test]
    fn frames_split_across_chunks_are_reassembled() {
        let data = [frame(b"abc"), frame(b""), frame(b"hello")].concat();
        let mut frames = Frames::default();
        let mut messages = Vec::new();
        for chunk in data.chunks(2) {
            messages.extend(feed(&mut frames, &Bytes::copy_from_slice(chunk)).0);
        }
        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"", b"hello"]);
    }

    #[test]
    fn a_chunks_messages_are_copied_out_of_it_together_whatever_their_size() {
        let large = vec![7; 64 * 1024];
        let data = Bytes::from([frame(b"abc"), frame(&large)].concat());
        let mut frames = Frames::default();

        let (messages, copies) = feed(&mut frames, &data);

        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], &large[..]]);
        assert_eq!(copies.len(), 1, "one copy for the chunk's messages");
        let within = |m: &Message| data.as_ptr_range().contains(&m.bytes.as_ptr());
        assert!(!messages.iter().any(within), "a kept message must not hold its chunk's buffer");
        assert!(frames.take_rest().is_empty());
    }

    #[test]
    fn a_message_begun_after_whole_ones_is_finished_by_the_next_chunk() {
        let data = Bytes::from([frame(b"abc"), frame(b"hello")].concat());
        let mut frames = Frames::default();
        let mut messages = feed(&mut frames, &data.slice(..11)).0;
        assert_eq!(messages.len(), 1, "only the whole message is out");
        messages.extend(feed(&mut frames, &data.slice(11..)).0);

        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"hello"]);
        assert!(frames.take_rest().is_empty());
    }

    #[test]
    fn a_lone_empty_message_is_not_copied() {
        let mut frames = Frames::default();

        let (messages, copies) = feed(&mut frames, &Bytes::from(frame(b"")));

        assert_eq!(messages.len(), 1);
        assert!(messages[0].bytes.is_empty());
        assert_eq!(copies[0].as_ptr(), EMPTY.as_ptr(), "the static frame, not a copy");
    }

    #[test]
    fn an_incomplete_message_is_what_is_left() {
        let data = [frame(b"abc"), frame(b"hello")].concat();
        let mut frames = Frames::default();
        let (messages, _) = feed(&mut frames, &Bytes::copy_from_slice(&data[..12]));

        assert_eq!(messages.len(), 1);
        assert_eq!(&frames.take_rest()[..], &data[8..12]);
    }
}
