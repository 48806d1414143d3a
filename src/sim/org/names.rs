//! Word lists the generated organisation draws its names from.

pub const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Andre", "Anika", "Ben", "Bianca", "Carla", "Chen", "Chloe",
    "Dara", "David", "Diego", "Elena", "Emeka", "Emma", "Farah", "Felix", "Grace", "Hana", "Hugo",
    "Ines", "Ivan", "Jada", "Jonas", "Julia", "Kai", "Kenji", "Lara", "Leo", "Lina", "Luca",
    "Maya", "Mateo", "Mei", "Nadia", "Nico", "Noor", "Omar", "Olga", "Paulo", "Priya", "Rafael",
    "Rosa", "Sam", "Sara", "Tariq", "Tess", "Uma", "Victor", "Wen", "Yara", "Zoe",
];

pub const LAST_NAMES: &[&str] = &[
    "Abbott", "Adeyemi", "Alvarez", "Bauer", "Becker", "Brown", "Castro", "Chen", "Costa", "Diaz",
    "Dubois", "Evans", "Fischer", "Garcia", "Gomez", "Hansen", "Hughes", "Ivanova", "Jensen",
    "Kaur", "Kim", "Kowalski", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura", "Nguyen", "Novak",
    "Okafor", "Olsen", "Patel", "Perez", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith",
    "Suzuki", "Tanaka", "Taylor", "Varga", "Wagner", "Walsh", "Wang", "Weber", "Wilson", "Yilmaz",
    "Zhang",
];

/// Business-unit time zones, in turn.
pub const TIME_ZONES: &[&str] = &[
    "America/New_York",
    "Europe/London",
    "America/Chicago",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Europe/Berlin",
];
