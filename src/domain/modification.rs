//! A family's request to correct the hospital's delivery record: pending until an officer
//! approves or rejects it, once.

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum ModificationState {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
}

impl ModificationState {
    pub fn decided(approved: bool) -> ModificationState {
        if approved {
            ModificationState::Approved
        } else {
            ModificationState::Rejected
        }
    }
}

impl LifeCycle for ModificationState {
    fn all() -> &'static [ModificationState] {
        ModificationState::ALL
    }

    fn sources(self) -> &'static [ModificationState] {
        match self {
            ModificationState::Pending => &[],
            ModificationState::Approved | ModificationState::Rejected => &[ModificationState::Pending],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn a_request_is_decided_once() {
        use ModificationState as M;
        assert_moves(&[(M::Pending, M::Approved), (M::Pending, M::Rejected)]);
        assert_eq!(M::decided(true), M::Approved);
        assert_eq!(M::decided(false), M::Rejected);
        assert_eq!(M::parse("approved"), Some(M::Approved));
        assert_eq!(M::parse("accepted"), None);
    }
}
