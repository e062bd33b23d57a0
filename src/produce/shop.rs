//! The simulated shop: clients and products, as in the seeds, and a larger seeded catalogue
//! of clients for `lakectl produce --clients N`.

use std::borrow::Cow;

/// A client of the shop.
#[derive(Debug, Clone)]
pub struct Client {
    /// Id.
    pub id: i64,
    /// Full name.
    pub nom: Cow<'static, str>,
    /// Country.
    pub pays: &'static str,
    /// `Business` or `Consumer`.
    pub segment: &'static str,
}

/// A product of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// Id.
    pub id: i64,
    /// Name.
    pub nom: &'static str,
    /// Category.
    pub categorie: &'static str,
    /// Unit price in euros.
    pub prix: f64,
}

const fn c(id: i64, nom: &'static str, pays: &'static str, segment: &'static str) -> Client {
    Client {
        id,
        nom: Cow::Borrowed(nom),
        pays,
        segment,
    }
}

const FIRST_NAMES: &[&str] = &[
    "Louis", "Léa", "Noah", "Mila", "Hugo", "Nora", "Elias", "Lina", "Mateo", "Zoé", "Finn",
    "Alba", "Lars", "Ines", "Oskar", "Nina", "Tomás", "Elena", "Milan", "Sara",
];
const LAST_NAMES: &[&str] = &[
    "Laurent", "Fischer", "Romano", "Peeters", "Santos", "Novak", "Jansen", "Moreno", "Keller",
    "Conti", "Dumont", "Wagner", "Silva", "Nowak", "Bakker", "Ruiz", "Meyer", "Greco", "Leroy",
    "Costa",
];
/// The countries clients live in (and move to, with `--client-changes`).
pub const COUNTRIES: &[&str] = &[
    "France",
    "Espagne",
    "Allemagne",
    "Italie",
    "Belgique",
    "Portugal",
    "Pays-Bas",
    "Suisse",
    "Pologne",
    "Autriche",
];

/// The first `n` clients: the seeds' 20, then clients generated from the id alone (the same
/// id always gives the same client, whatever `n` and the stream's seed).
pub fn clients(n: usize) -> Vec<Client> {
    let mut out: Vec<Client> = CLIENTS.iter().take(n).cloned().collect();
    for id in (CLIENTS.len() as i64 + 1)..=(n as i64) {
        // A fixed integer hash of the id (splitmix64), so every run agrees.
        let mut h = (id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let pick = |list: &[&'static str], shift: u32| list[((h >> shift) as usize) % list.len()];
        out.push(Client {
            id,
            nom: Cow::Owned(format!("{} {}", pick(FIRST_NAMES, 0), pick(LAST_NAMES, 16))),
            pays: pick(COUNTRIES, 32),
            segment: if (h >> 48).is_multiple_of(3) {
                "Business"
            } else {
                "Consumer"
            },
        });
    }
    out
}

const fn p(id: i64, nom: &'static str, categorie: &'static str, prix: f64) -> Product {
    Product {
        id,
        nom,
        categorie,
        prix,
    }
}

/// The clients.
pub const CLIENTS: &[Client] = &[
    c(1, "Jean Dupont", "France", "Consumer"),
    c(2, "Maria Garcia", "Espagne", "Business"),
    c(3, "Hans Müller", "Allemagne", "Business"),
    c(4, "Sophie Martin", "France", "Consumer"),
    c(5, "Luca Rossi", "Italie", "Consumer"),
    c(6, "Emma Janssens", "Belgique", "Business"),
    c(7, "Pierre Lefèvre", "France", "Business"),
    c(8, "Ana Souza", "Portugal", "Consumer"),
    c(9, "Lukas Schmidt", "Allemagne", "Consumer"),
    c(10, "Giulia Bianchi", "Italie", "Business"),
    c(11, "Camille Bernard", "France", "Consumer"),
    c(12, "Javier López", "Espagne", "Consumer"),
    c(13, "Sanne de Vries", "Pays-Bas", "Business"),
    c(14, "Marc Dubois", "Suisse", "Business"),
    c(15, "Chloé Petit", "France", "Consumer"),
    c(16, "Jan Kowalski", "Pologne", "Consumer"),
    c(17, "Claire Moreau", "Belgique", "Consumer"),
    c(18, "Thomas Weber", "Autriche", "Business"),
    c(19, "Inès Fontaine", "France", "Business"),
    c(20, "Paolo Ricci", "Italie", "Consumer"),
];

/// The products.
pub const PRODUCTS: &[Product] = &[
    p(101, "Ordinateur portable", "Informatique", 899.99),
    p(102, "Souris sans fil", "Accessoires", 24.90),
    p(103, "Clavier mécanique", "Accessoires", 89.50),
    p(104, "Écran 27 pouces", "Informatique", 279.00),
    p(105, "Casque audio", "Audio", 129.99),
    p(106, "Smartphone", "Téléphonie", 649.00),
    p(107, "Tablette", "Informatique", 399.00),
    p(108, "Imprimante laser", "Bureautique", 189.90),
    p(109, "Disque SSD 1 To", "Stockage", 94.99),
    p(110, "Webcam HD", "Accessoires", 59.90),
    p(111, "Enceinte Bluetooth", "Audio", 79.00),
    p(112, "Chargeur USB-C", "Téléphonie", 19.99),
    p(113, "Station d'accueil", "Accessoires", 149.00),
    p(114, "Clé USB 128 Go", "Stockage", 14.90),
    p(115, "Fauteuil de bureau", "Bureautique", 239.00),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_catalogue_keeps_the_seeds_and_is_stable() {
        let a = clients(500);
        assert_eq!(a.len(), 500);
        assert_eq!(a[2].nom, "Hans Müller");
        assert_eq!(a[499].id, 500);
        let b = clients(300);
        assert_eq!(a[299].nom, b[299].nom, "the same id gives the same client");
        let countries: std::collections::BTreeSet<_> = a.iter().map(|c| c.pays).collect();
        assert!(countries.len() >= 8);
        assert_eq!(clients(5).len(), 5);
    }
}
