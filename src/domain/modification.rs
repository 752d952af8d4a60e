//! A family's request to correct the hospital's delivery record: pending until an officer
//! approves or rejects it, once.

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

    pub fn can_move_to(self, to: ModificationState) -> bool {
        self == ModificationState::Pending && to != ModificationState::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_decided_once() {
        use ModificationState as M;
        let allowed = [(M::Pending, M::Approved), (M::Pending, M::Rejected)];
        for &from in M::ALL {
            for &to in M::ALL {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} → {to}");
            }
        }
        assert_eq!(M::decided(true), M::Approved);
        assert_eq!(M::decided(false), M::Rejected);
        assert_eq!(M::parse("approved"), Some(M::Approved));
        assert_eq!(M::parse("accepted"), None);
    }
}
