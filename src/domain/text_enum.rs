//! Life cycles are stored as text columns; this macro gives each state enum its one spelling,
//! the parse back (unknown text is `None`, never a default) and `Display`, written once.

/// `text_enum!(pub enum Name { Variant = "text", ... })`
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A life cycle: each state names the states it may be reached from. Persistence moves a row
/// with `UPDATE … WHERE state IN (sources)`, so a move the cycle does not allow changes nothing.
pub trait LifeCycle: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Every state, for table tests.
    fn all() -> &'static [Self];

    /// The states from which `self` may be reached; empty for a first state.
    fn sources(self) -> &'static [Self];

    fn can_move_to(self, to: Self) -> bool {
        to.sources().contains(&self)
    }
}

/// Table test of a life cycle: exactly the `allowed` moves are possible.
#[cfg(test)]
pub fn assert_moves<S: LifeCycle>(allowed: &[(S, S)]) {
    for &from in S::all() {
        for &to in S::all() {
            assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from:?} → {to:?}");
        }
    }
}
