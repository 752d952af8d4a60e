//! The two parents declared on an application.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::parent;
use super::{new_id, search, PersistenceError, StoredNumber};
use crate::crypto::Sealed;

#[derive(Debug, Clone)]
pub struct ParentRecord {
    pub role: String,
    pub name: String,
    pub id_type: String,
    pub id_number: StoredNumber,
    pub nationality: String,
    pub ethnicity: String,
    pub phone: Option<StoredNumber>,
    pub address: Option<String>,
}

/// Saves the application's parents (editable until the form is confirmed) → the roles whose
/// person changed. A parent given again with the same name, ID type and number keeps its row —
/// and so its identity result — with the other fields updated; a different person is a new row.
pub async fn save_parents(
    db: &impl ConnectionTrait,
    application_id: &str,
    parents: &[ParentRecord],
) -> Result<Vec<String>, PersistenceError> {
    let existing = parent::Entity::find().filter(parent::Column::ApplicationId.eq(application_id)).all(db).await?;
    let same_person = |old: &parent::Model, new: &ParentRecord| {
        old.name == new.name && old.id_type == new.id_type && old.id_number_bidx == new.id_number.bidx
    };
    let mut changed = Vec::new();
    for old in &existing {
        match parents.iter().find(|p| p.role == old.role) {
            Some(new) if same_person(old, new) => {}
            _ => {
                parent::Entity::delete_by_id(old.id.clone()).exec(db).await?;
                changed.push(old.role.clone());
            }
        }
    }
    let mut inserts = Vec::new();
    for p in parents {
        let kept = existing.iter().find(|old| old.role == p.role && same_person(old, p));
        let row = parent::ActiveModel {
            id: Set(kept.map_or_else(new_id, |k| k.id.clone())),
            application_id: Set(application_id.to_string()),
            role: Set(p.role.clone()),
            name: Set(p.name.clone()),
            id_type: Set(p.id_type.clone()),
            id_number_enc: Set(p.id_number.sealed.ciphertext.clone()),
            id_number_key_id: Set(p.id_number.sealed.key_id.clone()),
            id_number_bidx: Set(p.id_number.bidx.clone()),
            id_number_masked: Set(p.id_number.masked.clone()),
            nationality: Set(p.nationality.clone()),
            ethnicity: Set(p.ethnicity.clone()),
            phone_enc: Set(p.phone.as_ref().map(|x| x.sealed.ciphertext.clone())),
            phone_key_id: Set(p.phone.as_ref().map(|x| x.sealed.key_id.clone())),
            phone_bidx: Set(p.phone.as_ref().map(|x| x.bidx.clone())),
            phone_masked: Set(p.phone.as_ref().map(|x| x.masked.clone())),
            address: Set(p.address.clone()),
            updated_at: Set(Utc::now()),
        };
        if kept.is_some() {
            parent::Entity::update(row).exec(db).await?;
        } else {
            if !changed.contains(&p.role) {
                changed.push(p.role.clone());
            }
            inserts.push(row);
        }
    }
    if !inserts.is_empty() {
        parent::Entity::insert_many(inserts).exec_without_returning(db).await?;
    }
    // The search finds the case by the parents it has now (unchanged parents keep their rows).
    if !changed.is_empty() {
        let changed_roles: Vec<&str> = changed.iter().map(String::as_str).collect();
        search::remove_names(db, application_id, &changed_roles).await?;
        for p in parents.iter().filter(|p| changed.contains(&p.role)) {
            search::add_name(db, application_id, &p.role, &p.name).await?;
        }
    }
    Ok(changed)
}

/// The application's current parent in this role, with the id of its row (what a verification
/// names), in one read.
pub async fn in_role(
    db: &impl ConnectionTrait,
    application_id: &str,
    role: &str,
) -> Result<Option<(String, ParentRecord)>, PersistenceError> {
    Ok(parent::Entity::find()
        .filter(parent::Column::ApplicationId.eq(application_id))
        .filter(parent::Column::Role.eq(role))
        .one(db)
        .await?
        .map(|m| (m.id.clone(), record(m))))
}

fn record(m: parent::Model) -> ParentRecord {
    ParentRecord {
        phone: match (m.phone_enc, m.phone_key_id, m.phone_bidx, m.phone_masked) {
            (Some(c), Some(k), Some(b), Some(ma)) => {
                Some(StoredNumber { sealed: Sealed { key_id: k, ciphertext: c }, bidx: b, masked: ma })
            }
            _ => None,
        },
        role: m.role,
        name: m.name,
        id_type: m.id_type,
        id_number: StoredNumber {
            sealed: Sealed { key_id: m.id_number_key_id, ciphertext: m.id_number_enc },
            bidx: m.id_number_bidx,
            masked: m.id_number_masked,
        },
        nationality: m.nationality,
        ethnicity: m.ethnicity,
        address: m.address,
    }
}

pub async fn parents(db: &impl ConnectionTrait, application_id: &str) -> Result<Vec<ParentRecord>, PersistenceError> {
    Ok(parent::Entity::find()
        .filter(parent::Column::ApplicationId.eq(application_id))
        .order_by_desc(parent::Column::Role)
        .all(db)
        .await?
        .into_iter()
        .map(record)
        .collect())
}
