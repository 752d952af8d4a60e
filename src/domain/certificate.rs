//! A certificate's life after its number is issued (DESIGN §2): it is delivered, lost in the
//! post, or voided for an issuer's error; a voided one is recovered when the family returns it.
//! The blank stock a number comes from has its own short life (`StockState`).

pub use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum CertificateState {
        Issued = "issued",
        Delivered = "delivered",
        Lost = "lost",
        Voided = "voided",
        Recovered = "recovered",
    }
}

impl LifeCycle for CertificateState {
    fn all() -> &'static [CertificateState] {
        CertificateState::ALL
    }

    fn sources(self) -> &'static [CertificateState] {
        use CertificateState as C;
        match self {
            C::Issued => &[],
            C::Delivered | C::Lost => &[C::Issued],
            // A misprint or wrong data is voided before it leaves, on its way, or after delivery.
            C::Voided => &[C::Issued, C::Delivered],
            C::Recovered => &[C::Voided],
        }
    }
}

impl CertificateState {
    /// Still in force: the family holds it or it is on its way.
    pub fn in_force(self) -> bool {
        matches!(self, CertificateState::Issued | CertificateState::Delivered)
    }
}

crate::text_enum! {
    /// A number of the blank stock: used once, issued or written off as waste (废证).
    pub enum StockState {
        Blank = "blank",
        Issued = "issued",
        Waste = "waste",
    }
}

impl LifeCycle for StockState {
    fn all() -> &'static [StockState] {
        StockState::ALL
    }

    fn sources(self) -> &'static [StockState] {
        match self {
            StockState::Blank => &[],
            StockState::Issued => &[StockState::Blank],
            // Written off unused, or printed and voided for the issuer's error (废证).
            StockState::Waste => &[StockState::Blank, StockState::Issued],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn certificate_moves_match_the_table() {
        use CertificateState as C;
        let allowed = [
            (C::Issued, C::Delivered),
            (C::Issued, C::Lost),
            (C::Issued, C::Voided),
            (C::Delivered, C::Voided),
            (C::Voided, C::Recovered),
        ];
        for &from in C::ALL {
            for &to in C::ALL {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} → {to}");
            }
        }
    }

    #[test]
    fn stock_numbers_are_used_once() {
        use StockState as S;
        assert_moves(&[(S::Blank, S::Issued), (S::Blank, S::Waste), (S::Issued, S::Waste)]);
    }

    #[test]
    fn stored_text_round_trips_and_unknown_text_is_refused() {
        for &s in CertificateState::ALL {
            assert_eq!(CertificateState::parse(s.as_str()), Some(s));
        }
        for &s in StockState::ALL {
            assert_eq!(StockState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CertificateState::parse("shipped"), None);
        assert_eq!(StockState::parse("Blank"), None);
        assert!(CertificateState::Delivered.in_force());
        assert!(!CertificateState::Lost.in_force());
    }
}
