//! Splitting gRPC length-prefixed messages out of HTTP/2 body data, for the journal (which keeps
//! each message, both ways) and for faults (which cut streams between messages).

use bytes::{Buf, Bytes, BytesMut};

/// A message as it went over the wire: its bytes (after the 5-byte gRPC prefix), and whether
/// they were compressed.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) compressed: bool,
    pub(crate) bytes: Bytes,
}

/// Splits gRPC length-prefixed messages out of body data.
///
/// A chunk is kept as it came (`Bytes` are shared, not copied) and messages are sliced out of
/// it; only a message split across chunks is copied, to join its parts.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The latest chunk, not yet copied anywhere.
    chunk: Bytes,
    /// Parts of a message that spans chunks, joined.
    joined: BytesMut,
}

impl Frames {
    /// Takes a chunk of body data and passes each message it completes to `message`.
    pub(crate) fn feed(&mut self, data: &Bytes, mut message: impl FnMut(Message)) {
        if self.joined.is_empty() && self.chunk.is_empty() {
            // The usual case: the chunk starts a message. Its whole messages are read in
            // place; only an unfinished one is kept.
            let mut start = 0;
            while let Some(len) = whole_frame(&data[start..]) {
                message(to_message(data, start..start + len));
                start += len;
            }
            if start < data.len() {
                self.chunk = data.slice(start..);
            }
            return;
        }
        self.push(data.clone());
        while let Some(frame) = self.next_frame() {
            message(to_message(&frame, 0..frame.len()));
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

/// The message in the frame at `frame` of `data`, copied out: a slice would keep the whole
/// read buffer it came in alive for as long as the journal keeps the message.
fn to_message(data: &Bytes, frame: std::ops::Range<usize>) -> Message {
    let body = frame.start + 5..frame.end;
    let bytes = match body.len() {
        0 => Bytes::new(),
        _ => Bytes::copy_from_slice(&data[body]),
    };
    Message { compressed: data[frame.start] == 1, bytes }
}

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
            frames.feed(&Bytes::copy_from_slice(chunk), |message| messages.push(message));
        }
        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"", b"hello"]);
    }

    #[test]
    fn messages_are_copied_out_of_their_chunk_whatever_their_size() {
        let large = vec![7; 64 * 1024];
        let data = Bytes::from([frame(b"abc"), frame(&large)].concat());
        let mut frames = Frames::default();
        let mut messages = Vec::new();

        frames.feed(&data, |message| messages.push(message));

        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], &large[..]]);
        let within = |m: &Message| data.as_ptr_range().contains(&m.bytes.as_ptr());
        assert!(!messages.iter().any(within), "a kept message must not hold its chunk's buffer");
        assert!(frames.take_rest().is_empty());
    }

    #[test]
    fn a_message_begun_after_whole_ones_is_finished_by_the_next_chunk() {
        let data = Bytes::from([frame(b"abc"), frame(b"hello")].concat());
        let mut frames = Frames::default();
        let mut messages = Vec::new();

        frames.feed(&data.slice(..11), |message| messages.push(message));
        assert_eq!(messages.len(), 1, "only the whole message is out");
        frames.feed(&data.slice(11..), |message| messages.push(message));

        let bytes: Vec<&[u8]> = messages.iter().map(|m| &m.bytes[..]).collect();
        assert_eq!(bytes, [&b"abc"[..], b"hello"]);
        assert!(frames.take_rest().is_empty());
    }

    #[test]
    fn an_incomplete_message_is_what_is_left() {
        let data = [frame(b"abc"), frame(b"hello")].concat();
        let mut frames = Frames::default();
        let mut messages = Vec::new();

        frames.feed(&Bytes::copy_from_slice(&data[..12]), |message| messages.push(message));

        assert_eq!(messages.len(), 1);
        assert_eq!(&frames.take_rest()[..], &data[8..12]);
    }
}
