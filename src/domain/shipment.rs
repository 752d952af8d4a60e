//! A parcel's life, and the courier's events that move it. Progress events may arrive out of
//! order (a late `picked_up` after `in_transit`), so progress moves among the open states;
//! `delivered` ends the parcel, and so do `lost`, `damaged` and `destroyed` (each a loss: the
//! certificate is reissued with unchanged data).

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum ShipmentStatus {
        Booked = "booked",
        PickedUp = "picked_up",
        InTransit = "in_transit",
        Delivered = "delivered",
        Lost = "lost",
        Damaged = "damaged",
        Destroyed = "destroyed",
    }
}

impl ShipmentStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, ShipmentStatus::Booked | ShipmentStatus::PickedUp | ShipmentStatus::InTransit)
    }
}

impl LifeCycle for ShipmentStatus {
    fn all() -> &'static [ShipmentStatus] {
        ShipmentStatus::ALL
    }

    fn sources(self) -> &'static [ShipmentStatus] {
        use ShipmentStatus as S;
        match self {
            S::Booked => &[],
            S::PickedUp | S::InTransit | S::Delivered | S::Lost | S::Damaged | S::Destroyed => {
                &[S::Booked, S::PickedUp, S::InTransit]
            }
        }
    }
}

crate::text_enum! {
    /// What the courier reports about a tracking number.
    pub enum CourierEventKind {
        PickedUp = "picked_up",
        InTransit = "in_transit",
        Delivered = "delivered",
        Lost = "lost",
        Damaged = "damaged",
        Destroyed = "destroyed",
    }
}

impl CourierEventKind {
    /// The certificate did not reach the family (lost, damaged or destroyed on the way): the
    /// courier's loss certificate is needed, and the certificate is reissued.
    pub fn is_loss(self) -> bool {
        matches!(self, CourierEventKind::Lost | CourierEventKind::Damaged | CourierEventKind::Destroyed)
    }

    /// Where the event takes the parcel.
    pub fn shipment_status(self) -> ShipmentStatus {
        match self {
            CourierEventKind::PickedUp => ShipmentStatus::PickedUp,
            CourierEventKind::InTransit => ShipmentStatus::InTransit,
            CourierEventKind::Delivered => ShipmentStatus::Delivered,
            CourierEventKind::Lost => ShipmentStatus::Lost,
            CourierEventKind::Damaged => ShipmentStatus::Damaged,
            CourierEventKind::Destroyed => ShipmentStatus::Destroyed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text_enum::assert_moves;

    #[test]
    fn parcel_moves_match_the_table() {
        use ShipmentStatus as S;
        let open = [S::Booked, S::PickedUp, S::InTransit];
        let reachable = [S::PickedUp, S::InTransit, S::Delivered, S::Lost, S::Damaged, S::Destroyed];
        let allowed: Vec<(S, S)> = open.iter().flat_map(|&f| reachable.iter().map(move |&t| (f, t))).collect();
        assert_moves(&allowed);
        assert!(S::Delivered.is_final() && S::Lost.is_final() && S::Destroyed.is_final() && !S::InTransit.is_final());
    }

    #[test]
    fn each_courier_event_names_its_parcel_state() {
        let table = [
            ("picked_up", ShipmentStatus::PickedUp),
            ("in_transit", ShipmentStatus::InTransit),
            ("delivered", ShipmentStatus::Delivered),
            ("lost", ShipmentStatus::Lost),
            ("damaged", ShipmentStatus::Damaged),
            ("destroyed", ShipmentStatus::Destroyed),
        ];
        assert_eq!(CourierEventKind::ALL.len(), table.len());
        for (text, status) in table {
            assert_eq!(CourierEventKind::parse(text).map(CourierEventKind::shipment_status), Some(status), "{text}");
        }
        assert_eq!(CourierEventKind::parse("returned_to_sender"), None);
        assert_eq!(ShipmentStatus::parse("shipped"), None);
    }
}
