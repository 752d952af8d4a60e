//! A parcel's life, and the courier's events that move it. Progress events may arrive out of
//! order (a late `picked_up` after `in_transit`), so progress moves among the open states;
//! `delivered` and `lost` end the parcel.

use super::text_enum::LifeCycle;

crate::text_enum! {
    pub enum ShipmentStatus {
        Booked = "booked",
        PickedUp = "picked_up",
        InTransit = "in_transit",
        Delivered = "delivered",
        Lost = "lost",
    }
}

impl ShipmentStatus {
    pub fn is_final(self) -> bool {
        matches!(self, ShipmentStatus::Delivered | ShipmentStatus::Lost)
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
            S::PickedUp | S::InTransit | S::Delivered | S::Lost => &[S::Booked, S::PickedUp, S::InTransit],
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
    }
}

impl CourierEventKind {
    /// Where the event takes the parcel.
    pub fn shipment_status(self) -> ShipmentStatus {
        match self {
            CourierEventKind::PickedUp => ShipmentStatus::PickedUp,
            CourierEventKind::InTransit => ShipmentStatus::InTransit,
            CourierEventKind::Delivered => ShipmentStatus::Delivered,
            CourierEventKind::Lost => ShipmentStatus::Lost,
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
        let reachable = [S::PickedUp, S::InTransit, S::Delivered, S::Lost];
        let allowed: Vec<(S, S)> = open.iter().flat_map(|&f| reachable.iter().map(move |&t| (f, t))).collect();
        assert_moves(&allowed);
        assert!(S::Delivered.is_final() && S::Lost.is_final() && !S::InTransit.is_final());
    }

    #[test]
    fn each_courier_event_names_its_parcel_state() {
        let table = [
            ("picked_up", ShipmentStatus::PickedUp),
            ("in_transit", ShipmentStatus::InTransit),
            ("delivered", ShipmentStatus::Delivered),
            ("lost", ShipmentStatus::Lost),
        ];
        assert_eq!(CourierEventKind::ALL.len(), table.len());
        for (text, status) in table {
            assert_eq!(CourierEventKind::parse(text).map(CourierEventKind::shipment_status), Some(status), "{text}");
        }
        assert_eq!(CourierEventKind::parse("returned_to_sender"), None);
        assert_eq!(ShipmentStatus::parse("shipped"), None);
    }
}
