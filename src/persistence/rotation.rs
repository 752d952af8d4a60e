//! Re-sealing every sealed value under the current data key (`birthcert crypto rotate`): ID and
//! phone numbers and the frozen registration forms. Blind indexes use their own key and do not
//! change. Rows are walked in pages by id; each update is conditional on the value it replaces,
//! so a row the service rewrote in the meantime is left to its new value.

use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::{ConnectionTrait, Value};

use super::{Db, PersistenceError};
use crate::crypto::{split_sealed_text, PersonalDataCipher, Sealed};

/// A sealed column and the column naming its key.
struct SealedColumn {
    table: &'static str,
    value: &'static str,
    key_id: &'static str,
    field: crate::crypto::Field,
}

const NUMBERS: [SealedColumn; 6] = {
    use crate::crypto::Field::{IdNumber, Phone};
    [
        SealedColumn { table: "parents", value: "id_number_enc", key_id: "id_number_key_id", field: IdNumber },
        SealedColumn { table: "parents", value: "phone_enc", key_id: "phone_key_id", field: Phone },
        SealedColumn { table: "health_cards", value: "id_number_enc", key_id: "id_number_key_id", field: IdNumber },
        SealedColumn { table: "health_cards", value: "phone_enc", key_id: "phone_key_id", field: Phone },
        SealedColumn {
            table: "delivery_records",
            value: "mother_id_number_enc",
            key_id: "mother_id_number_key_id",
            field: IdNumber,
        },
        SealedColumn {
            table: "applications",
            value: "recipient_phone_enc",
            key_id: "recipient_phone_key_id",
            field: Phone,
        },
    ]
};

const PAGE: u64 = 500;

/// What a rotation did: values sealed again, and values already under the current key.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    pub resealed: u64,
    pub current: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Db(#[from] PersistenceError),
    #[error("{table}.{column} of row {id} does not open: {source}")]
    DoesNotOpen { table: &'static str, column: &'static str, id: String, source: crate::crypto::CryptoError },
}

impl From<sea_orm::DbErr> for RotationError {
    fn from(e: sea_orm::DbErr) -> Self {
        RotationError::Db(e.into())
    }
}

/// One page of (id, value, key id) after `after`, in id order.
async fn page(
    db: &Db,
    table: &'static str,
    value: &'static str,
    key_id: Option<&'static str>,
    after: &str,
) -> Result<Vec<(String, String, Option<String>)>, RotationError> {
    let mut select = Query::select();
    select.from(Alias::new(table)).column(Alias::new("id")).column(Alias::new(value));
    if let Some(key_id) = key_id {
        select.column(Alias::new(key_id));
    }
    select
        .and_where(Expr::col(Alias::new(value)).is_not_null())
        .and_where(Expr::col(Alias::new("id")).gt(after))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(PAGE);
    let rows = db.query_all(db.get_database_backend().build(&select)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let key = match key_id {
            Some(column) => row.try_get::<Option<String>>("", column)?,
            None => None,
        };
        out.push((row.try_get::<String>("", "id")?, row.try_get::<String>("", value)?, key));
    }
    Ok(out)
}

/// Replaces `value` (and its key id) only if the row still holds `old`.
async fn replace(
    db: &Db,
    table: &'static str,
    columns: Vec<(&'static str, String)>,
    id: &str,
    value_column: &'static str,
    old: &str,
) -> Result<(), RotationError> {
    let mut update = Query::update();
    update.table(Alias::new(table));
    for (column, value) in columns {
        update.value(Alias::new(column), Value::from(value));
    }
    update.and_where(Expr::col(Alias::new("id")).eq(id)).and_where(Expr::col(Alias::new(value_column)).eq(old));
    db.execute(db.get_database_backend().build(&update)).await?;
    Ok(())
}

/// Seals every number and every frozen form that is not under the current key with it.
pub async fn reseal_all(db: &Db, cipher: &PersonalDataCipher) -> Result<Resealed, RotationError> {
    let mut done = Resealed::default();
    for column in &NUMBERS {
        let mut after = String::new();
        loop {
            let rows = page(db, column.table, column.value, Some(column.key_id), &after).await?;
            let Some(last) = rows.last() else { break };
            after = last.0.clone();
            for (id, ciphertext, key_id) in rows {
                if cipher.is_current(key_id.as_deref()) {
                    done.current += 1;
                    continue;
                }
                let old = Sealed { key_id: key_id.unwrap_or_default(), ciphertext };
                let clear = cipher.open(column.field, &old).map_err(|source| RotationError::DoesNotOpen {
                    table: column.table,
                    column: column.value,
                    id: id.clone(),
                    source,
                })?;
                let new = cipher.seal(column.field, &clear);
                let columns = vec![(column.value, new.ciphertext), (column.key_id, new.key_id)];
                replace(db, column.table, columns, &id, column.value, &old.ciphertext).await?;
                done.resealed += 1;
            }
        }
    }
    // Frozen forms carry their key id inside the value; a form in clear has none.
    let mut after = String::new();
    loop {
        let rows = page(db, "applications", "form_snapshot", None, &after).await?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (id, stored, _) in rows {
            let key_id = split_sealed_text(&stored).map(|s| s.key_id);
            if cipher.is_current(key_id.as_deref()) {
                done.current += 1;
                continue;
            }
            let clear = cipher.open_form(&stored).map_err(|source| RotationError::DoesNotOpen {
                table: "applications",
                column: "form_snapshot",
                id: id.clone(),
                source,
            })?;
            let columns = vec![("form_snapshot", cipher.seal_form(&clear))];
            replace(db, "applications", columns, &id, "form_snapshot", &stored).await?;
            done.resealed += 1;
        }
    }
    Ok(done)
}
