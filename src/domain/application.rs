//! The application's state machine (DESIGN §2) and the effects of each move. Pure: a transition
//! takes the current state and a command and returns the new state and the effects that
//! `services::lifecycle::apply` — the only code that moves an application — writes in the same
//! transaction as the move; anything else is refused with the state it was in.

use super::application_state::ApplicationState as S;
use super::notification::NotificationEvent;

/// The four ID images an application needs, front and back of each parent's ID card.
pub const DOCUMENT_KINDS: [&str; 4] = ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"];

/// The father's hand-held ID photo, when he verified that way instead of by face.
pub const HANDHELD_PHOTO: &str = "father_handheld_photo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Parents saved; `eligible` is the outcome of the eligibility rules.
    EnterParents {
        eligible: bool,
    },
    /// A parent failed face verification for the last allowed time: online eligibility ends.
    ExhaustFaceAttempts,
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
    /// The address changed while the order was open: the order is closed (the fee may differ)
    /// and a new one is placed on the next payment.
    ChangeAddress,
    PaymentSucceeded,
    Return,
    Resubmit,
    Approve,
    Ship,
    Deliver,
    ReportLost,
    /// Issuer error (misprint, wrong data), before or after delivery: the certificate is voided
    /// and a new one issued.
    VoidAndReissue,
    Withdraw,
    /// The officer ends the case online: a special situation the counter handles.
    Refer,
}

impl Command {
    pub const ALL: [Command; 22] = [
        Command::EnterParents { eligible: true },
        Command::EnterParents { eligible: false },
        Command::ExhaustFaceAttempts,
        Command::CompleteIdentity,
        Command::CompleteDocuments,
        Command::RequestModification,
        Command::DecideModification { approved: true },
        Command::DecideModification { approved: false },
        Command::Confirm,
        Command::Sign,
        Command::CreateOrder,
        Command::ChangeAddress,
        Command::PaymentSucceeded,
        Command::Return,
        Command::Resubmit,
        Command::Approve,
        Command::Ship,
        Command::Deliver,
        Command::ReportLost,
        Command::VoidAndReissue,
        Command::Withdraw,
        Command::Refer,
    ];
}

impl Command {
    /// What the command is called in a refusal ("… is not possible while …").
    pub fn action(self) -> &'static str {
        match self {
            Command::EnterParents { .. } => "entering parents",
            Command::ExhaustFaceAttempts => "ending online eligibility",
            Command::CompleteIdentity => "completing identity",
            Command::CompleteDocuments => "completing documents",
            Command::RequestModification => "a modification request",
            Command::DecideModification { .. } => "a modification decision",
            Command::Confirm => "confirmation",
            Command::Sign => "signing",
            Command::CreateOrder => "payment",
            Command::ChangeAddress => "changing the address",
            Command::PaymentSucceeded => "payment",
            Command::Return => "a return",
            Command::Resubmit => "resubmission",
            Command::Approve => "approval",
            Command::Ship => "shipment",
            Command::Deliver => "delivery",
            Command::ReportLost => "a loss report",
            Command::VoidAndReissue => "void and reissue",
            Command::Withdraw => "withdrawal",
            Command::Refer => "a referral to the counter",
        }
    }

    /// The timeline's name for a command that may leave the state where it was without being a
    /// move (editing parents); None: even in place it is a move, versioned and audited (a void
    /// and reissue of a certificate that has not left).
    pub fn in_place_event(self) -> Option<&'static str> {
        match self {
            Command::EnterParents { .. } => Some("parents_updated"),
            _ => None,
        }
    }
}

/// What goes with the move, in the same transaction, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Queue the applicant's message (outbox row).
    Notify(NotificationEvent),
    /// Set `review_due_at` (and `submitted_at`) from the working-day calendar.
    StartReviewClock,
    /// Consume a blank number, record the certificate and write both registers.
    IssueCertificate,
    /// Queue the provincial report of the number just issued.
    ReportIssuance,
    /// Queue the provincial report that the case's certificate is void (voided, or lost,
    /// damaged or destroyed in transit).
    ReportVoid,
    /// Freeze the registration form with its digest and the newborn's name (confirmation).
    FreezeForm,
    /// Keep the eligibility verdict's reasons (empty when eligible).
    RecordEligibility,
    /// Keep the officer's reasons and the documents to redo.
    RecordReturn,
    /// Mark the open payment order closed (the platform has closed it first).
    CloseOrder,
    /// Give a paid fee back: the order becomes `refund_pending` and the refund is owed to the
    /// platform (the payment-calls worker makes it).
    RefundPayment,
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
    use Effect::*;
    use NotificationEvent as N;
    let to = |to: S, effects: &[Effect]| Ok(Transition { to, effects: effects.to_vec() });
    match (from, command) {
        (f, C::EnterParents { eligible }) if PARENTS_EDITABLE.contains(&f) => {
            to(if eligible { S::ParentsEntered } else { S::Ineligible }, &[RecordEligibility])
        }
        (S::ParentsEntered, C::ExhaustFaceAttempts) => to(S::Ineligible, &[RecordEligibility]),
        (S::ParentsEntered, C::CompleteIdentity) => to(S::IdentityVerified, &[]),
        (S::IdentityVerified, C::CompleteDocuments) => to(S::DocumentsUploaded, &[]),
        (S::DocumentsUploaded, C::RequestModification) => to(S::ModificationRequested, &[]),
        (S::ModificationRequested, C::DecideModification { .. }) => {
            to(S::DocumentsUploaded, &[Notify(N::ModificationDecided)])
        }
        (S::DocumentsUploaded, C::Confirm) => to(S::Confirmed, &[FreezeForm]),
        (S::Confirmed, C::Sign) => to(S::Signed, &[]),
        (S::Signed, C::CreateOrder) => to(S::AwaitingPayment, &[]),
        (S::AwaitingPayment, C::ChangeAddress) => to(S::Signed, &[CloseOrder]),
        // Nothing is kept without service: an open order closes with the case.
        (S::AwaitingPayment, C::Withdraw) => to(S::Withdrawn, &[CloseOrder]),
        (S::AwaitingPayment, C::PaymentSucceeded) | (S::Returned, C::Resubmit) => {
            to(S::Submitted, &[StartReviewClock, Notify(N::Submitted)])
        }
        (S::Submitted, C::Return) => to(S::Returned, &[RecordReturn, Notify(N::Returned)]),
        (S::Submitted, C::Approve) | (S::LostInTransit, C::Approve) => {
            to(S::Issued, &[IssueCertificate, ReportIssuance, Notify(N::Issued)])
        }
        // The family hears why before they hear the new number. Before delivery too: a misprint
        // or wrong data found while the certificate waits or travels voids it; a shipped one is
        // posted again once reissued.
        (S::Delivered | S::Issued | S::Shipped, C::VoidAndReissue) => {
            to(S::Issued, &[Notify(N::Reissuing), ReportVoid, IssueCertificate, ReportIssuance, Notify(N::Issued)])
        }
        (S::Issued, C::Ship) => to(S::Shipped, &[Notify(N::Shipped)]),
        (S::Shipped, C::Deliver) => to(S::Delivered, &[Notify(N::Delivered)]),
        (S::Shipped, C::ReportLost) => to(S::LostInTransit, &[ReportVoid, Notify(N::Reissuing)]),
        (f, C::Withdraw) if WITHDRAWABLE.contains(&f) => to(S::Withdrawn, &[]),
        // Paid, so the fee goes back; the family is told where and when to go.
        (S::Submitted | S::Returned, C::Refer) => to(S::Referred, &[RefundPayment, Notify(N::Referred)]),
        (from, command) => Err(WrongState { from, command }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Effect::*;
    use NotificationEvent as N;

    /// Every allowed (state, command) → (state, effects), written out by hand from DESIGN §2 and
    /// §5. Everything not here is refused.
    fn allowed() -> Vec<(S, Command, S, Vec<Effect>)> {
        use Command as C;
        let editable = [S::Draft, S::ParentsEntered, S::IdentityVerified, S::DocumentsUploaded];
        let before_payment = [
            S::Draft,
            S::ParentsEntered,
            S::IdentityVerified,
            S::DocumentsUploaded,
            S::ModificationRequested,
            S::Confirmed,
            S::Signed,
            S::AwaitingPayment,
        ];
        let mut t = Vec::new();
        for s in editable {
            t.push((s, C::EnterParents { eligible: true }, S::ParentsEntered, vec![RecordEligibility]));
            t.push((s, C::EnterParents { eligible: false }, S::Ineligible, vec![RecordEligibility]));
        }
        for s in before_payment {
            let effects = if s == S::AwaitingPayment { vec![CloseOrder] } else { vec![] };
            t.push((s, C::Withdraw, S::Withdrawn, effects));
        }
        let submitted = vec![StartReviewClock, Notify(N::Submitted)];
        let issued = vec![IssueCertificate, ReportIssuance, Notify(N::Issued)];
        t.extend([
            (S::ParentsEntered, C::ExhaustFaceAttempts, S::Ineligible, vec![RecordEligibility]),
            (S::ParentsEntered, C::CompleteIdentity, S::IdentityVerified, vec![]),
            (S::IdentityVerified, C::CompleteDocuments, S::DocumentsUploaded, vec![]),
            (S::DocumentsUploaded, C::RequestModification, S::ModificationRequested, vec![]),
            (
                S::ModificationRequested,
                C::DecideModification { approved: true },
                S::DocumentsUploaded,
                vec![Notify(N::ModificationDecided)],
            ),
            (
                S::ModificationRequested,
                C::DecideModification { approved: false },
                S::DocumentsUploaded,
                vec![Notify(N::ModificationDecided)],
            ),
            (S::DocumentsUploaded, C::Confirm, S::Confirmed, vec![FreezeForm]),
            (S::Confirmed, C::Sign, S::Signed, vec![]),
            (S::Signed, C::CreateOrder, S::AwaitingPayment, vec![]),
            (S::AwaitingPayment, C::ChangeAddress, S::Signed, vec![CloseOrder]),
            (S::AwaitingPayment, C::PaymentSucceeded, S::Submitted, submitted.clone()),
            (S::Submitted, C::Return, S::Returned, vec![RecordReturn, Notify(N::Returned)]),
            (S::Returned, C::Resubmit, S::Submitted, submitted),
            (S::Submitted, C::Approve, S::Issued, issued.clone()),
            (S::LostInTransit, C::Approve, S::Issued, issued),
            (
                S::Delivered,
                C::VoidAndReissue,
                S::Issued,
                vec![Notify(N::Reissuing), ReportVoid, IssueCertificate, ReportIssuance, Notify(N::Issued)],
            ),
            (
                S::Issued,
                C::VoidAndReissue,
                S::Issued,
                vec![Notify(N::Reissuing), ReportVoid, IssueCertificate, ReportIssuance, Notify(N::Issued)],
            ),
            (
                S::Shipped,
                C::VoidAndReissue,
                S::Issued,
                vec![Notify(N::Reissuing), ReportVoid, IssueCertificate, ReportIssuance, Notify(N::Issued)],
            ),
            (S::Issued, C::Ship, S::Shipped, vec![Notify(N::Shipped)]),
            (S::Shipped, C::Deliver, S::Delivered, vec![Notify(N::Delivered)]),
            (S::Shipped, C::ReportLost, S::LostInTransit, vec![ReportVoid, Notify(N::Reissuing)]),
            (S::Submitted, C::Refer, S::Referred, vec![RefundPayment, Notify(N::Referred)]),
            (S::Returned, C::Refer, S::Referred, vec![RefundPayment, Notify(N::Referred)]),
        ]);
        t
    }

    #[test]
    fn every_state_and_command_matches_the_table_with_its_effects() {
        let table = allowed();
        let mut checked = 0;
        for from in S::ALL {
            for command in Command::ALL {
                let expected = table
                    .iter()
                    .find(|(s, c, _, _)| *s == from && *c == command)
                    .map(|(_, _, to, effects)| Transition { to: *to, effects: effects.clone() });
                let got = transition(from, command);
                match expected {
                    Some(t) => assert_eq!(got, Ok(t), "{from} {command:?}"),
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
    fn every_applicant_message_of_design_section_5_is_sent_by_some_move() {
        let sent: Vec<Effect> = S::ALL
            .into_iter()
            .flat_map(|s| Command::ALL.into_iter().filter_map(move |c| transition(s, c).ok()))
            .flat_map(|t| t.effects)
            .collect();
        for event in [
            N::Submitted,
            N::Returned,
            N::ModificationDecided,
            N::Issued,
            N::Shipped,
            N::Delivered,
            N::Reissuing,
            N::Referred,
        ] {
            assert!(sent.contains(&Notify(event)), "{event:?} is never sent");
        }
    }
}
