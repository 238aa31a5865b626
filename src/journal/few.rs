//! A list that keeps its first item inline.

/// A list whose first item lives inline and the rest in a `Vec`: most lists a test fills hold
/// one item (one request message, one fault rule, one server), and one item then costs no
/// allocation.
#[derive(Clone, Debug)]
pub(crate) struct Few<T> {
    first: Option<T>,
    rest: Vec<T>,
}

impl<T> Default for Few<T> {
    fn default() -> Self {
        Self { first: None, rest: Vec::new() }
    }
}

impl<T> Few<T> {
    pub(crate) fn push(&mut self, item: T) {
        match self.first {
            None => self.first = Some(item),
            Some(_) => self.rest.push(item),
        }
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        match index {
            0 => self.first.as_ref(),
            _ => self.rest.get(index - 1),
        }
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        match index {
            0 => self.first.as_mut(),
            _ => self.rest.get_mut(index - 1),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(&self.rest)
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.first.iter_mut().chain(&mut self.rest)
    }

    pub(crate) fn clear(&mut self) {
        self.first = None;
        self.rest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn items_keep_their_order_across_the_inline_slot() {
        let mut few = Few::default();
        assert_eq!((few.len(), few.get(0)), (0, None));
        for item in 1..=3 {
            few.push(item);
        }
        few.iter_mut().for_each(|item| *item *= 10);
        *few.get_mut(1).unwrap() += 1;

        assert_eq!(few.iter().copied().collect::<Vec<_>>(), [10, 21, 30]);
        assert_eq!(
            (few.len(), few.get(0), few.get(2), few.get(3)),
            (3, Some(&10), Some(&30), None)
        );
        few.clear();
        assert_eq!((few.len(), few.iter().count()), (0, 0));
    }
}
