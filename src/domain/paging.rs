//! Which page of a list a query may ask for: `page` 1..=1,000,000 and `per_page` 1..=200, so the
//! offset always fits the database's integers and a list cannot be asked to hold more than a
//! screenful.

pub const MAX_PAGE: u64 = 1_000_000;
pub const MAX_PER_PAGE: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("page must be 1 to 1000000 and per_page 1 to 200")]
pub struct PageError;

impl Page {
    /// The requested page, the first by default, with `default_per_page` rows unless asked.
    pub fn parse(page: Option<u64>, per_page: Option<u64>, default_per_page: u64) -> Result<Page, PageError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(default_per_page);
        if !(1..=MAX_PAGE).contains(&page) || !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(PageError);
        }
        Ok(Page { page, per_page })
    }

    /// Rows to skip: at most 199,999,800, well inside every integer the databases take.
    pub fn offset(self) -> u64 {
        (self.page - 1) * self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded_and_offsets_fit() {
        assert_eq!(Page::parse(None, None, 20), Ok(Page { page: 1, per_page: 20 }));
        assert_eq!(Page::parse(Some(3), Some(50), 20).map(Page::offset), Ok(100));
        for (page, per_page) in
            [(0, 20), (MAX_PAGE + 1, 20), (u64::MAX, 20), (1, 0), (1, MAX_PER_PAGE + 1), (1, u64::MAX)]
        {
            assert_eq!(Page::parse(Some(page), Some(per_page), 20), Err(PageError), "{page} {per_page}");
        }
        let last = Page::parse(Some(MAX_PAGE), Some(MAX_PER_PAGE), 20).expect("the largest");
        assert!(i64::try_from(last.offset()).is_ok());
    }
}
