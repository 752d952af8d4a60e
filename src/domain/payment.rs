//! A courier-fee order: created with the platform, then paid once by its notification, or
//! closed unpaid (the address changed, the case ended) so it can never be paid.

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum PaymentState {
        Created = "created",
        Paid = "paid",
        Closed = "closed",
    }
}

impl LifeCycle for PaymentState {
    fn all() -> &'static [PaymentState] {
        PaymentState::ALL
    }

    fn sources(self) -> &'static [PaymentState] {
        match self {
            PaymentState::Created => &[],
            PaymentState::Paid | PaymentState::Closed => &[PaymentState::Created],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn an_order_is_paid_once() {
        use PaymentState as P;
        assert_moves(&[(P::Created, P::Paid), (P::Created, P::Closed)]);
        assert_eq!(P::parse("paid"), Some(P::Paid));
        assert_eq!(P::parse("SUCCESS"), None);
    }
}
