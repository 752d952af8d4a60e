//! A courier-fee order: created with the platform, then paid once by its notification, or
//! closed unpaid (the address changed, the case ended) so it can never be paid. Money that
//! arrives for a case that can no longer take it is refunded in full: `paid → refund_pending →
//! refunded`.

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum PaymentState {
        Created = "created",
        Paid = "paid",
        Closed = "closed",
        RefundPending = "refund_pending",
        Refunded = "refunded",
    }
}

impl LifeCycle for PaymentState {
    fn all() -> &'static [PaymentState] {
        PaymentState::ALL
    }

    fn sources(self) -> &'static [PaymentState] {
        use PaymentState as P;
        match self {
            P::Created => &[],
            // `closed → paid`: the payer confirmed at the cashier while our close was on its way
            // (or could not reach the platform); the money is real and is refunded next.
            P::Paid => &[P::Created, P::Closed],
            P::Closed => &[P::Created],
            P::RefundPending => &[P::Paid],
            P::Refunded => &[P::RefundPending],
        }
    }
}

impl PaymentState {
    /// Whether the family's money is with us (or on its way back).
    pub fn holds_money(self) -> bool {
        matches!(self, PaymentState::Paid | PaymentState::RefundPending | PaymentState::Refunded)
    }
}

/// The merchant's refund number for an order: one per order, so asking the platform again (a
/// retry after a lost answer) refunds once. At most 64 characters, like the order's own number.
pub fn refund_number(out_trade_no: &str) -> String {
    format!("RF{}", out_trade_no.trim_start_matches("BC"))
}

/// What a genuine payment notification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The order was the one the application was waiting for: it is paid and the application
    /// goes to the officer.
    Submits,
    /// The money arrived for an order the case no longer takes (withdrawn, closed after an
    /// address change): it is recorded as paid and refunded in full.
    Refunds,
    /// A repeated notification: already settled one way or the other.
    AlreadySettled,
}

/// Decides a payment notification from the order's state and whether its application is still
/// waiting for payment.
pub fn settle(order: PaymentState, application_awaits_payment: bool) -> Settlement {
    match order {
        PaymentState::Created if application_awaits_payment => Settlement::Submits,
        PaymentState::Created | PaymentState::Closed => Settlement::Refunds,
        PaymentState::Paid | PaymentState::RefundPending | PaymentState::Refunded => Settlement::AlreadySettled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn an_order_is_paid_once_and_refunded_at_most_once() {
        use PaymentState as P;
        assert_moves(&[
            (P::Created, P::Paid),
            (P::Created, P::Closed),
            (P::Closed, P::Paid),
            (P::Paid, P::RefundPending),
            (P::RefundPending, P::Refunded),
        ]);
        assert_eq!(P::parse("refund_pending"), Some(P::RefundPending));
        assert_eq!(P::parse("SUCCESS"), None);
    }

    #[test]
    fn money_for_a_case_that_cannot_take_it_goes_back() {
        use PaymentState as P;
        assert_eq!(settle(P::Created, true), Settlement::Submits);
        assert_eq!(settle(P::Created, false), Settlement::Refunds);
        assert_eq!(settle(P::Closed, false), Settlement::Refunds);
        // A closed order is never the one a case waits for, even if the case waits again.
        assert_eq!(settle(P::Closed, true), Settlement::Refunds);
        for repeated in [P::Paid, P::RefundPending, P::Refunded] {
            assert_eq!(settle(repeated, true), Settlement::AlreadySettled);
            assert_eq!(settle(repeated, false), Settlement::AlreadySettled);
        }
        assert!(P::Refunded.holds_money() && !P::Closed.holds_money());
        assert_eq!(refund_number("BC0123456789abcdef0123456789abcd"), "RF0123456789abcdef0123456789abcd");
    }
}
