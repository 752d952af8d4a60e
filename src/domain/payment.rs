//! A courier-fee order: created with the platform, then paid once by its notification.

crate::text_enum! {
    pub enum PaymentState {
        Created = "created",
        Paid = "paid",
    }
}

impl PaymentState {
    pub fn can_move_to(self, to: PaymentState) -> bool {
        matches!((self, to), (PaymentState::Created, PaymentState::Paid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_paid_once() {
        use PaymentState as P;
        for &from in P::ALL {
            for &to in P::ALL {
                assert_eq!(from.can_move_to(to), (from, to) == (P::Created, P::Paid), "{from} → {to}");
            }
        }
        assert_eq!(P::parse("paid"), Some(P::Paid));
        assert_eq!(P::parse("SUCCESS"), None);
    }
}
