//! The application's state machine (DESIGN §2). Pure: a transition takes the current state and
//! a command and returns the new state and the effects the caller must persist in the same
//! transaction; anything else is refused with the state it was in.

use super::application_state::ApplicationState as S;
use super::notification::NotificationEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Parents saved; `eligible` is the outcome of the eligibility rules.
    EnterParents {
        eligible: bool,
    },
    /// Mother face-verified and father face-verified or hand-held photo accepted.
    CompleteIdentity,
    /// All four ID images stored.
    CompleteDocuments,
    RequestModification,
    DecideModification {
        approved: bool,
    },
    /// Form and newborn name confirmed; the form is frozen.
    Confirm,
    Sign,
    /// Address given and a payment order created.
    CreateOrder,
    PaymentSucceeded,
    Return,
    Resubmit,
    Approve,
    Ship,
    Deliver,
    ReportLost,
    /// Issuer error after delivery: the certificate is voided and a new one issued.
    VoidAndReissue,
    Withdraw,
}

impl Command {
    pub const ALL: [Command; 19] = [
        Command::EnterParents { eligible: true },
        Command::EnterParents { eligible: false },
        Command::CompleteIdentity,
        Command::CompleteDocuments,
        Command::RequestModification,
        Command::DecideModification { approved: true },
        Command::DecideModification { approved: false },
        Command::Confirm,
        Command::Sign,
        Command::CreateOrder,
        Command::PaymentSucceeded,
        Command::Return,
        Command::Resubmit,
        Command::Approve,
        Command::Ship,
        Command::Deliver,
        Command::ReportLost,
        Command::VoidAndReissue,
        Command::Withdraw,
    ];
}

/// What the caller must do along with the state change, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Notify(NotificationEvent),
    /// Set `review_due_at` from the working-day calendar.
    StartReviewClock,
    /// Consume a blank number and write both registers.
    IssueCertificate,
    /// The frozen form must be taken now (confirmation).
    FreezeForm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: S,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{command:?} is not possible while the application is {from}")]
pub struct WrongState {
    pub from: S,
    pub command: Command,
}

/// Parents can be edited until the form is confirmed; editing them again means verifying
/// identity again.
const PARENTS_EDITABLE: [S; 4] = [S::Draft, S::ParentsEntered, S::IdentityVerified, S::DocumentsUploaded];

/// Withdrawal is possible before the application reaches the officer (before payment).
const WITHDRAWABLE: [S; 8] = [
    S::Draft,
    S::ParentsEntered,
    S::IdentityVerified,
    S::DocumentsUploaded,
    S::ModificationRequested,
    S::Confirmed,
    S::Signed,
    S::AwaitingPayment,
];

pub fn transition(from: S, command: Command) -> Result<Transition, WrongState> {
    use Command as C;
    let to = |to: S, effects: Vec<Effect>| Ok(Transition { to, effects });
    match (from, command) {
        (f, C::EnterParents { eligible }) if PARENTS_EDITABLE.contains(&f) => {
            to(if eligible { S::ParentsEntered } else { S::Ineligible }, vec![])
        }
        (S::ParentsEntered, C::CompleteIdentity) => to(S::IdentityVerified, vec![]),
        (S::IdentityVerified, C::CompleteDocuments) => to(S::DocumentsUploaded, vec![]),
        (S::DocumentsUploaded, C::RequestModification) => to(S::ModificationRequested, vec![]),
        (S::ModificationRequested, C::DecideModification { .. }) => {
            to(S::DocumentsUploaded, vec![Effect::Notify(NotificationEvent::ModificationDecided)])
        }
        (S::DocumentsUploaded, C::Confirm) => to(S::Confirmed, vec![Effect::FreezeForm]),
        (S::Confirmed, C::Sign) => to(S::Signed, vec![]),
        (S::Signed, C::CreateOrder) => to(S::AwaitingPayment, vec![]),
        (S::AwaitingPayment, C::PaymentSucceeded) | (S::Returned, C::Resubmit) => {
            to(S::Submitted, vec![Effect::StartReviewClock, Effect::Notify(NotificationEvent::Submitted)])
        }
        (S::Submitted, C::Return) => to(S::Returned, vec![Effect::Notify(NotificationEvent::Returned)]),
        (S::Submitted, C::Approve) | (S::LostInTransit, C::Approve) | (S::Delivered, C::VoidAndReissue) => {
            to(S::Issued, vec![Effect::IssueCertificate, Effect::Notify(NotificationEvent::Issued)])
        }
        (S::Issued, C::Ship) => to(S::Shipped, vec![Effect::Notify(NotificationEvent::Shipped)]),
        (S::Shipped, C::Deliver) => to(S::Delivered, vec![Effect::Notify(NotificationEvent::Delivered)]),
        (S::Shipped, C::ReportLost) => to(S::LostInTransit, vec![Effect::Notify(NotificationEvent::Reissuing)]),
        (f, C::Withdraw) if WITHDRAWABLE.contains(&f) => to(S::Withdrawn, vec![]),
        (from, command) => Err(WrongState { from, command }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every allowed (state, command) → state, written out. Everything not here is refused.
    fn allowed() -> Vec<(S, Command, S)> {
        use Command as C;
        let mut t = Vec::new();
        for s in PARENTS_EDITABLE {
            t.push((s, C::EnterParents { eligible: true }, S::ParentsEntered));
            t.push((s, C::EnterParents { eligible: false }, S::Ineligible));
        }
        for s in WITHDRAWABLE {
            t.push((s, C::Withdraw, S::Withdrawn));
        }
        t.extend([
            (S::ParentsEntered, C::CompleteIdentity, S::IdentityVerified),
            (S::IdentityVerified, C::CompleteDocuments, S::DocumentsUploaded),
            (S::DocumentsUploaded, C::RequestModification, S::ModificationRequested),
            (S::ModificationRequested, C::DecideModification { approved: true }, S::DocumentsUploaded),
            (S::ModificationRequested, C::DecideModification { approved: false }, S::DocumentsUploaded),
            (S::DocumentsUploaded, C::Confirm, S::Confirmed),
            (S::Confirmed, C::Sign, S::Signed),
            (S::Signed, C::CreateOrder, S::AwaitingPayment),
            (S::AwaitingPayment, C::PaymentSucceeded, S::Submitted),
            (S::Submitted, C::Return, S::Returned),
            (S::Returned, C::Resubmit, S::Submitted),
            (S::Submitted, C::Approve, S::Issued),
            (S::LostInTransit, C::Approve, S::Issued),
            (S::Delivered, C::VoidAndReissue, S::Issued),
            (S::Issued, C::Ship, S::Shipped),
            (S::Shipped, C::Deliver, S::Delivered),
            (S::Shipped, C::ReportLost, S::LostInTransit),
        ]);
        t
    }

    #[test]
    fn every_state_and_command_matches_the_table() {
        let table = allowed();
        let mut checked = 0;
        for from in S::ALL {
            for command in Command::ALL {
                let expected = table.iter().find(|(s, c, _)| *s == from && *c == command).map(|(_, _, to)| *to);
                let got = transition(from, command);
                match expected {
                    Some(to) => assert_eq!(got.map(|t| t.to), Ok(to), "{from} {command:?}"),
                    None => assert_eq!(got, Err(WrongState { from, command }), "{from} {command:?} must be refused"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, S::ALL.len() * Command::ALL.len());
    }

    #[test]
    fn final_states_accept_nothing() {
        for from in [S::Ineligible, S::Withdrawn] {
            for command in Command::ALL {
                assert!(transition(from, command).is_err(), "{from} {command:?}");
            }
        }
    }

    #[test]
    fn effects_follow_design_section_5() {
        let paid = transition(S::AwaitingPayment, Command::PaymentSucceeded).expect("allowed");
        assert!(paid.effects.contains(&Effect::StartReviewClock));
        assert!(paid.effects.contains(&Effect::Notify(NotificationEvent::Submitted)));
        let resubmitted = transition(S::Returned, Command::Resubmit).expect("allowed");
        assert!(resubmitted.effects.contains(&Effect::StartReviewClock), "a resubmission gets a new deadline");
        assert_eq!(
            transition(S::Submitted, Command::Return).expect("ok").effects,
            vec![Effect::Notify(NotificationEvent::Returned)]
        );
        let issued = transition(S::Submitted, Command::Approve).expect("ok");
        assert!(issued.effects.contains(&Effect::IssueCertificate));
        assert_eq!(
            transition(S::Shipped, Command::ReportLost).expect("ok").effects,
            vec![Effect::Notify(NotificationEvent::Reissuing)]
        );
        assert_eq!(transition(S::DocumentsUploaded, Command::Confirm).expect("ok").effects, vec![Effect::FreezeForm]);
    }
}
