//! `KeysToSnakeCase`: every key of the record (and of its nested mappings) in snake case, as
//! the CDK's `KeysToSnakeCaseTransformation`: transliterated to ASCII (`anyascii`), split in
//! tokens (`[A-Z]+[a-z]*|[a-z]+|\d+`, anything else separates), joined with `_`.

use serde_json::{Map, Value};

use super::{Transformation, record_map};
use crate::engine_error::Result;
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::Context;

/// A `KeysToSnakeCase` transformation.
#[derive(Debug)]
pub struct KeysToSnakeCase {
    at: ManifestPath,
}

impl KeysToSnakeCase {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            at: node.path.clone(),
        })
    }
}

fn transform_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let value = match value {
            Value::Object(inner) => Value::Object(transform_map(inner)),
            other => other,
        };
        out.insert(snake_case_key(&key), value);
    }
    out
}

impl Transformation for KeysToSnakeCase {
    fn transform(&self, record: &mut Value, _context: &Context) -> Result<()> {
        let map = record_map(record, "KeysToSnakeCase", &self.at)?;
        *map = transform_map(std::mem::take(map));
        Ok(())
    }
}

/// The CDK's `process_key`: normalize, tokenize, filter, join.
pub fn snake_case_key(key: &str) -> String {
    let ascii = to_ascii(key);
    let chars: Vec<char> = ascii.chars().collect();
    // `finditer` over the token pattern; the `NoToken` alternative gives an empty token.
    let mut tokens: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        if c.is_ascii_uppercase() {
            while i < chars.len() && chars[i].is_ascii_uppercase() {
                i += 1;
            }
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c.is_ascii_lowercase() {
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            while i < chars.len() && !chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            tokens.push(String::new());
        }
    }
    if tokens.len() >= 3 {
        let last = tokens.len() - 1;
        let mut kept = vec![tokens[0].clone()];
        kept.extend(tokens[1..last].iter().filter(|t| !t.is_empty()).cloned());
        kept.push(tokens[last].clone());
        tokens = kept;
    }
    if tokens
        .first()
        .is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
    {
        tokens.insert(0, String::new());
    }
    tokens
        .iter()
        .map(|t| t.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `anyascii` for the Latin ranges and general punctuation (the keys APIs use); other
/// characters without an entry are dropped.
fn to_ascii(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if let Ok(i) = ANYASCII.binary_search_by_key(&(c as u32), |(code, _)| *code) {
            out.push_str(ANYASCII[i].1);
        }
    }
    out
}

/// `anyascii.anyascii` of U+0080..U+024F and U+2000..U+206F (generated from the library).
const ANYASCII: &[(u32, &str)] = &[
    (160, " "),
    (161, "!"),
    (162, "c"),
    (163, "GBP"),
    (164, "$"),
    (165, "Y"),
    (166, "|"),
    (167, "S"),
    (168, "\""),
    (169, "(C)"),
    (170, "a"),
    (171, "<<"),
    (172, "!"),
    (174, "(R)"),
    (175, "-"),
    (176, "deg"),
    (177, "+-"),
    (178, "2"),
    (179, "3"),
    (180, "'"),
    (181, "u"),
    (182, "P"),
    (183, "-"),
    (184, ","),
    (185, "1"),
    (186, "o"),
    (187, ">>"),
    (188, "1/4"),
    (189, "1/2"),
    (190, "3/4"),
    (191, "?"),
    (192, "A"),
    (193, "A"),
    (194, "A"),
    (195, "A"),
    (196, "A"),
    (197, "A"),
    (198, "Ae"),
    (199, "C"),
    (200, "E"),
    (201, "E"),
    (202, "E"),
    (203, "E"),
    (204, "I"),
    (205, "I"),
    (206, "I"),
    (207, "I"),
    (208, "D"),
    (209, "N"),
    (210, "O"),
    (211, "O"),
    (212, "O"),
    (213, "O"),
    (214, "O"),
    (215, "*"),
    (216, "O"),
    (217, "U"),
    (218, "U"),
    (219, "U"),
    (220, "U"),
    (221, "Y"),
    (222, "Th"),
    (223, "ss"),
    (224, "a"),
    (225, "a"),
    (226, "a"),
    (227, "a"),
    (228, "a"),
    (229, "a"),
    (230, "ae"),
    (231, "c"),
    (232, "e"),
    (233, "e"),
    (234, "e"),
    (235, "e"),
    (236, "i"),
    (237, "i"),
    (238, "i"),
    (239, "i"),
    (240, "d"),
    (241, "n"),
    (242, "o"),
    (243, "o"),
    (244, "o"),
    (245, "o"),
    (246, "o"),
    (247, "/"),
    (248, "o"),
    (249, "u"),
    (250, "u"),
    (251, "u"),
    (252, "u"),
    (253, "y"),
    (254, "th"),
    (255, "y"),
    (256, "A"),
    (257, "a"),
    (258, "A"),
    (259, "a"),
    (260, "A"),
    (261, "a"),
    (262, "C"),
    (263, "c"),
    (264, "C"),
    (265, "c"),
    (266, "C"),
    (267, "c"),
    (268, "C"),
    (269, "c"),
    (270, "D"),
    (271, "d"),
    (272, "D"),
    (273, "d"),
    (274, "E"),
    (275, "e"),
    (276, "E"),
    (277, "e"),
    (278, "E"),
    (279, "e"),
    (280, "E"),
    (281, "e"),
    (282, "E"),
    (283, "e"),
    (284, "G"),
    (285, "g"),
    (286, "G"),
    (287, "g"),
    (288, "G"),
    (289, "g"),
    (290, "G"),
    (291, "g"),
    (292, "H"),
    (293, "h"),
    (294, "H"),
    (295, "h"),
    (296, "I"),
    (297, "i"),
    (298, "I"),
    (299, "i"),
    (300, "I"),
    (301, "i"),
    (302, "I"),
    (303, "i"),
    (304, "I"),
    (305, "i"),
    (306, "IJ"),
    (307, "ij"),
    (308, "J"),
    (309, "j"),
    (310, "K"),
    (311, "k"),
    (312, "q"),
    (313, "L"),
    (314, "l"),
    (315, "L"),
    (316, "l"),
    (317, "L"),
    (318, "l"),
    (319, "L"),
    (320, "l"),
    (321, "L"),
    (322, "l"),
    (323, "N"),
    (324, "n"),
    (325, "N"),
    (326, "n"),
    (327, "N"),
    (328, "n"),
    (329, "'n"),
    (330, "Ng"),
    (331, "ng"),
    (332, "O"),
    (333, "o"),
    (334, "O"),
    (335, "o"),
    (336, "O"),
    (337, "o"),
    (338, "Oe"),
    (339, "oe"),
    (340, "R"),
    (341, "r"),
    (342, "R"),
    (343, "r"),
    (344, "R"),
    (345, "r"),
    (346, "S"),
    (347, "s"),
    (348, "S"),
    (349, "s"),
    (350, "S"),
    (351, "s"),
    (352, "S"),
    (353, "s"),
    (354, "T"),
    (355, "t"),
    (356, "T"),
    (357, "t"),
    (358, "T"),
    (359, "t"),
    (360, "U"),
    (361, "u"),
    (362, "U"),
    (363, "u"),
    (364, "U"),
    (365, "u"),
    (366, "U"),
    (367, "u"),
    (368, "U"),
    (369, "u"),
    (370, "U"),
    (371, "u"),
    (372, "W"),
    (373, "w"),
    (374, "Y"),
    (375, "y"),
    (376, "Y"),
    (377, "Z"),
    (378, "z"),
    (379, "Z"),
    (380, "z"),
    (381, "Z"),
    (382, "z"),
    (383, "s"),
    (384, "b"),
    (385, "B"),
    (386, "B"),
    (387, "b"),
    (388, "6"),
    (389, "6"),
    (390, "O"),
    (391, "C"),
    (392, "c"),
    (393, "D"),
    (394, "D"),
    (395, "D"),
    (396, "d"),
    (397, "z"),
    (398, "E"),
    (399, "E"),
    (400, "E"),
    (401, "F"),
    (402, "f"),
    (403, "G"),
    (404, "G"),
    (405, "hw"),
    (406, "I"),
    (407, "I"),
    (408, "K"),
    (409, "k"),
    (410, "l"),
    (411, "l"),
    (412, "W"),
    (413, "N"),
    (414, "n"),
    (415, "O"),
    (416, "O"),
    (417, "o"),
    (418, "Gh"),
    (419, "gh"),
    (420, "P"),
    (421, "p"),
    (422, "R"),
    (423, "2"),
    (424, "2"),
    (425, "Sh"),
    (426, "sh"),
    (427, "t"),
    (428, "T"),
    (429, "t"),
    (430, "T"),
    (431, "U"),
    (432, "u"),
    (433, "U"),
    (434, "V"),
    (435, "Y"),
    (436, "y"),
    (437, "Z"),
    (438, "z"),
    (439, "Zh"),
    (440, "`"),
    (441, "`"),
    (442, "zh"),
    (443, "dz"),
    (444, "5"),
    (445, "5"),
    (446, "ts"),
    (447, "w"),
    (448, "c"),
    (449, "x"),
    (450, "qc"),
    (451, "q"),
    (452, "DZ"),
    (453, "Dz"),
    (454, "dz"),
    (455, "LJ"),
    (456, "Lj"),
    (457, "lj"),
    (458, "NJ"),
    (459, "Nj"),
    (460, "nj"),
    (461, "A"),
    (462, "a"),
    (463, "I"),
    (464, "i"),
    (465, "O"),
    (466, "o"),
    (467, "U"),
    (468, "u"),
    (469, "U"),
    (470, "u"),
    (471, "U"),
    (472, "u"),
    (473, "U"),
    (474, "u"),
    (475, "U"),
    (476, "u"),
    (477, "e"),
    (478, "A"),
    (479, "a"),
    (480, "A"),
    (481, "a"),
    (482, "Ae"),
    (483, "ae"),
    (484, "G"),
    (485, "g"),
    (486, "G"),
    (487, "g"),
    (488, "K"),
    (489, "k"),
    (490, "O"),
    (491, "o"),
    (492, "O"),
    (493, "o"),
    (494, "Zh"),
    (495, "zh"),
    (496, "j"),
    (497, "DZ"),
    (498, "Dz"),
    (499, "dz"),
    (500, "G"),
    (501, "g"),
    (502, "Hw"),
    (503, "W"),
    (504, "N"),
    (505, "n"),
    (506, "A"),
    (507, "a"),
    (508, "Ae"),
    (509, "ae"),
    (510, "O"),
    (511, "o"),
    (512, "A"),
    (513, "a"),
    (514, "A"),
    (515, "a"),
    (516, "E"),
    (517, "e"),
    (518, "E"),
    (519, "e"),
    (520, "I"),
    (521, "i"),
    (522, "I"),
    (523, "i"),
    (524, "O"),
    (525, "o"),
    (526, "O"),
    (527, "o"),
    (528, "R"),
    (529, "r"),
    (530, "R"),
    (531, "r"),
    (532, "U"),
    (533, "u"),
    (534, "U"),
    (535, "u"),
    (536, "S"),
    (537, "s"),
    (538, "T"),
    (539, "t"),
    (540, "Y"),
    (541, "y"),
    (542, "H"),
    (543, "h"),
    (544, "N"),
    (545, "d"),
    (546, "Ou"),
    (547, "ou"),
    (548, "Z"),
    (549, "z"),
    (550, "A"),
    (551, "a"),
    (552, "E"),
    (553, "e"),
    (554, "O"),
    (555, "o"),
    (556, "O"),
    (557, "o"),
    (558, "O"),
    (559, "o"),
    (560, "O"),
    (561, "o"),
    (562, "Y"),
    (563, "y"),
    (564, "l"),
    (565, "n"),
    (566, "t"),
    (567, "j"),
    (568, "db"),
    (569, "qp"),
    (570, "A"),
    (571, "C"),
    (572, "c"),
    (573, "L"),
    (574, "T"),
    (575, "s"),
    (576, "z"),
    (577, "'"),
    (578, "'"),
    (579, "B"),
    (580, "U"),
    (581, "A"),
    (582, "E"),
    (583, "e"),
    (584, "J"),
    (585, "j"),
    (586, "Q"),
    (587, "q"),
    (588, "R"),
    (589, "r"),
    (590, "Y"),
    (591, "y"),
    (8192, " "),
    (8193, " "),
    (8194, " "),
    (8195, " "),
    (8196, " "),
    (8197, " "),
    (8198, " "),
    (8199, " "),
    (8200, " "),
    (8201, " "),
    (8202, " "),
    (8208, "-"),
    (8209, "-"),
    (8210, "-"),
    (8211, "-"),
    (8212, "-"),
    (8213, "-"),
    (8214, "||"),
    (8215, "_"),
    (8216, "'"),
    (8217, "'"),
    (8218, "'"),
    (8219, "'"),
    (8220, "\""),
    (8221, "\""),
    (8222, "\""),
    (8223, "\""),
    (8224, "+"),
    (8225, "++"),
    (8226, "*"),
    (8227, "*"),
    (8228, "."),
    (8229, ".."),
    (8230, "..."),
    (8231, "-"),
    (8232, " "),
    (8233, " "),
    (8239, " "),
    (8240, "%0"),
    (8241, "%00"),
    (8242, "'"),
    (8243, "''"),
    (8244, "'''"),
    (8245, "`"),
    (8246, "``"),
    (8247, "```"),
    (8248, "^"),
    (8249, "<"),
    (8250, ">"),
    (8251, "*"),
    (8252, "!!"),
    (8253, "!?"),
    (8254, "-"),
    (8255, "_"),
    (8256, "-"),
    (8257, "^"),
    (8258, "***"),
    (8259, "-"),
    (8260, "/"),
    (8261, "["),
    (8262, "]"),
    (8263, "??"),
    (8264, "?!"),
    (8265, "!?"),
    (8266, "&"),
    (8267, "P"),
    (8268, "<"),
    (8269, ">"),
    (8270, "*"),
    (8271, ";"),
    (8272, "_"),
    (8273, "**"),
    (8274, "./."),
    (8275, "~"),
    (8276, "_"),
    (8277, "*"),
    (8278, ":"),
    (8279, "''''"),
    (8280, ":"),
    (8281, "*"),
    (8282, ":"),
    (8283, ":"),
    (8284, "+"),
    (8285, ":"),
    (8286, ":"),
    (8287, " "),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_as_the_cdk() {
        // Expected values printed by the CDK's own `process_key`.
        for (key, expected) in [
            ("FirstName", "first_name"),
            ("first name", "first_name"),
            ("HTTPResponseCode", "httpresponse_code"),
            ("123abc", "_123_abc"),
            ("already_snake", "already_snake"),
            ("a--b", "a_b"),
            ("ÄpfelÜber", "apfel_uber"),
            ("x1Y2", "x_1_y_2"),
            ("__init__", "_init_"),
            ("CamelCASEWord", "camel_caseword"),
            ("", ""),
            ("  ", ""),
            ("été", "ete"),
            ("a.b.c", "a_b_c"),
            ("ID", "id"),
        ] {
            assert_eq!(snake_case_key(key), expected, "{key:?}");
        }
    }

    #[test]
    fn nested_mappings_too() {
        let t = KeysToSnakeCase {
            at: ManifestPath::root(),
        };
        let mut r = json!({"UserId": 1, "Meta Data": {"CreatedAt": 2}, "List": [{"InList": 3}]});
        t.transform(&mut r, &Context::default()).unwrap();
        assert_eq!(
            r,
            json!({"user_id": 1, "meta_data": {"created_at": 2}, "list": [{"InList": 3}]})
        );
    }
}
