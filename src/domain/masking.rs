//! Masking of personal data for applicant responses and logs (`3701**********123X`).

/// Keeps the first four and last four characters of an ID number.
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 4, 4)
}

/// Keeps the first three and last four digits of a phone number (`138****5678`).
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// Keeps the first character of a name (`张*`, `欧**`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// A short form of an opaque reference (application id) for messages: its last 6 characters.
pub fn short_reference(reference: &str) -> String {
    let chars: Vec<char> = reference.chars().collect();
    chars[chars.len().saturating_sub(6)..].iter().collect::<String>().to_uppercase()
}

fn mask_middle(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        // Too short to show any part safely.
        return "*".repeat(chars.len());
    }
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= chars.len() - tail { *c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_show_four_and_four() {
        assert_eq!(mask_id_number("37012419900101123X"), "3701**********123X");
    }

    #[test]
    fn phones_show_three_and_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
    }

    #[test]
    fn names_show_the_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn short_values_are_fully_hidden() {
        assert_eq!(mask_id_number("1234567"), "*******");
    }
}
