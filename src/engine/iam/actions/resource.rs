//! Matching a policy's `Resource` value against the ARN templates of resource types
//! (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`). Owns the approximation below and a
//! per-resource cache; knows nothing about statements or rules.
//!
//! Both sides are globs. A template's `${...}` variables (and a literal `*` in a template) match
//! any run of characters, except: variables before the fifth `:` (partition, service, region,
//! account) never contain `:`, and `${BucketName}` never contains `/` (so a bucket ARN is not an
//! object ARN). A policy Resource has IAM's `*` and `?`; its policy variables (`${aws:username}`)
//! stand for an unknown value: like `*` when asking "could it match", like a value that covers
//! nothing when asking "does it cover every resource of the type". `${*}`, `${?}`, `${$}` are
//! the literal characters. A literal partition must be a real AWS partition and means "every
//! resource of that partition".
//!
//! * "could match" asks whether some ARN matches both (a reachability search over pairs of
//!   positions, exact for two globs). When the Resource has five `:`, the `arn`, partition,
//!   service, region and account segments are matched pairwise and then the resource parts: a
//!   Resource `*` there stays within its segment, as in real ARNs (`arn:aws:iam::*:role/x` is
//!   not a user). With fewer `:` (`arn:aws:iam::*`) the whole strings are matched.
//! * "covers" is sound but not complete: the Resource must match the template's text where each
//!   template variable has to be absorbed by a `*` of the Resource (`arn:aws:iam::*:role/*`
//!   covers `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}`). Unions of several
//!   resources are only credited type by type.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use super::table::Table;

/// AWS partitions a literal partition in a Resource may name.
const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// A template symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TTok {
    Lit(u8),
    /// A variable: any run of characters; `colon`/`slash`: whether it may contain them.
    Var {
        colon: bool,
        slash: bool,
    },
}

/// A symbol of a policy Resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RTok {
    Lit(u8),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Any,
    /// A whole known partition segment: any run without `:`.
    Segment,
    /// A policy variable.
    PolicyVar,
}

/// What one Resource value (other than `*`) could match and covers, by resource-type index.
#[derive(Debug, Default)]
pub(super) struct Profile {
    pub matches: RoaringBitmap,
    pub covers: RoaringBitmap,
}

/// A compiled ARN template.
#[derive(Debug)]
struct Template {
    toks: Vec<TTok>,
    /// Positions of the five `:` that end the partition, service, region and account segments.
    cuts: Option<[usize; 5]>,
    /// The literal start of the resource part (after the fifth `:`).
    head: &'static [u8],
}

impl Template {
    fn compile(arn: &'static str) -> Template {
        let toks = compile_template(arn);
        let cuts = segment_cuts(&toks, |t| t == TTok::Lit(b':'));
        let head = resource_head(arn, true).unwrap_or_default();
        Template { toks, cuts, head }
    }

    /// Whether the Resource (its tokens and segment cuts) could match the template, and whether
    /// it covers it.
    fn relate(&self, r: &[RTok], cuts: Option<[usize; 5]>) -> (bool, bool) {
        if let (Some(tc), Some(rc)) = (self.cuts, cuts) {
            let pairs = segments(&self.toks, tc).into_iter().zip(segments(r, rc));
            let matches = pairs.clone().all(|(t, r)| could_match(t, r));
            (
                matches,
                matches && pairs.into_iter().all(|(t, r)| covers(r, t)),
            )
        } else {
            let matches = could_match(&self.toks, r);
            (matches, matches && covers(r, &self.toks))
        }
    }
}

/// Compiled templates and the index used to compute profiles.
#[derive(Debug, Default)]
pub(super) struct ResourceIndex {
    templates: Vec<Template>,
    /// Resource types by the literal service segment of their template.
    by_service: HashMap<&'static str, Vec<u32>>,
    /// Resource types whose template has a variable service segment (`${Vendor}`).
    any_service: Vec<u32>,
}

impl ResourceIndex {
    pub fn build(table: &Table) -> ResourceIndex {
        let mut index = ResourceIndex::default();
        for (i, def) in table.resource_types.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            index.templates.push(Template::compile(def.arn));
            match def.arn.split(':').nth(2) {
                Some(service) if !service.contains(['$', '*']) => {
                    index.by_service.entry(service).or_default().push(id);
                }
                _ => index.any_service.push(id),
            }
        }
        index
    }

    /// Computes which resource types `resource` could match and which it covers.
    pub fn profile(&self, resource: &str) -> Profile {
        let mut profile = Profile::default();
        if is_star(resource) {
            return profile; // callers answer `*` themselves, without a profile
        }
        let Some(tokens) = tokenize_resource(resource) else {
            return profile; // a partition that does not exist
        };
        // Cheap exact rejection: when the Resource's first five segments hold no wildcard, an ARN
        // matching both has its resource part start with both literal heads.
        let head = resource_head(resource, false);
        let cuts = segment_cuts(&tokens, |t| t == RTok::Lit(b':'));
        let candidates: Box<dyn Iterator<Item = u32>> = match literal_service(resource) {
            Some(service) => Box::new(
                self.by_service
                    .get(service)
                    .into_iter()
                    .flatten()
                    .chain(&self.any_service)
                    .copied(),
            ),
            None => Box::new(0..u32::try_from(self.templates.len()).unwrap_or(0)),
        };
        for id in candidates {
            let Some(template) = self.templates.get(id as usize) else {
                continue;
            };
            if head.is_some_and(|r| !(r.starts_with(template.head) || template.head.starts_with(r)))
            {
                continue;
            }
            let (matches, covers) = template.relate(&tokens, cuts);
            if matches {
                profile.matches.insert(id);
            }
            if covers {
                profile.covers.insert(id);
            }
        }
        profile
    }
}

/// True for `*`, `**`, ...: IAM's "every resource".
pub(super) fn is_star(resource: &str) -> bool {
    !resource.is_empty() && resource.bytes().all(|b| b == b'*')
}

/// Positions of the first five `:` tokens, if there are five.
fn segment_cuts<T: Copy>(toks: &[T], is_colon: impl Fn(T) -> bool) -> Option<[usize; 5]> {
    let mut cuts = [0; 5];
    let mut found = 0;
    for (i, &t) in toks.iter().enumerate() {
        if is_colon(t) {
            cuts[found] = i;
            found += 1;
            if found == 5 {
                return Some(cuts);
            }
        }
    }
    None
}

/// The six segments between the cuts (`arn`, partition, service, region, account, resource).
fn segments<T>(toks: &[T], cuts: [usize; 5]) -> [&[T]; 6] {
    let piece = |from: usize, to: usize| toks.get(from..to).unwrap_or_default();
    [
        piece(0, cuts[0]),
        piece(cuts[0] + 1, cuts[1]),
        piece(cuts[1] + 1, cuts[2]),
        piece(cuts[2] + 1, cuts[3]),
        piece(cuts[3] + 1, cuts[4]),
        piece(cuts[4] + 1, toks.len()),
    ]
}

/// The literal start of the resource part: the bytes after the fifth `:` up to the first
/// wildcard or variable. For a Resource, None if a wildcard or variable comes before that `:`
/// (it could span colons); a template's variables there never hold a `:` (see the module).
fn resource_head(text: &str, is_template: bool) -> Option<&[u8]> {
    let bytes = text.as_bytes();
    let wild = |b: u8| b == b'*' || b == b'$' || (!is_template && b == b'?');
    let mut colons = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b':' {
            colons += 1;
            if colons == 5 {
                let rest = bytes.get(i + 1..)?;
                let end = rest.iter().position(|&c| wild(c)).unwrap_or(rest.len());
                return rest.get(..end);
            }
        } else if wild(b) && !is_template {
            return None;
        }
    }
    None
}

fn compile_template(arn: &str) -> Vec<TTok> {
    let bytes = arn.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let (mut i, mut colons) = (0, 0);
    while i < bytes.len() {
        let in_resource_part = colons >= 5;
        if bytes[i..].starts_with(b"${")
            && let Some(len) = bytes[i..].iter().position(|&b| b == b'}')
        {
            let name = &bytes[i + 2..i + len];
            out.push(TTok::Var {
                colon: in_resource_part,
                slash: name != b"BucketName",
            });
            i += len + 1;
            continue;
        }
        match bytes[i] {
            b'*' => out.push(TTok::Var {
                colon: in_resource_part,
                slash: true,
            }),
            b => {
                colons += usize::from(b == b':');
                out.push(TTok::Lit(b));
            }
        }
        i += 1;
    }
    out
}

/// Tokens of a policy Resource; None if it names a partition that does not exist.
fn tokenize_resource(resource: &str) -> Option<Vec<RTok>> {
    let bytes = resource.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    if let Some(rest) = resource.strip_prefix("arn:")
        && let Some((partition, _)) = rest.split_once(':')
        && !partition.contains(['*', '?', '$'])
    {
        if !PARTITIONS.contains(&partition) {
            return None;
        }
        out.extend([b'a', b'r', b'n', b':'].map(RTok::Lit));
        out.push(RTok::Segment);
        i = 4 + partition.len();
    }
    while i < bytes.len() {
        if bytes[i..].starts_with(b"${")
            && let Some(len) = bytes[i..].iter().position(|&b| b == b'}')
        {
            out.push(match &bytes[i + 2..i + len] {
                [c @ (b'*' | b'?' | b'$')] => RTok::Lit(*c),
                _ => RTok::PolicyVar,
            });
            i += len + 1;
            continue;
        }
        out.push(match bytes[i] {
            b'*' => RTok::Any,
            b'?' => RTok::One,
            b => RTok::Lit(b),
        });
        i += 1;
    }
    Some(out)
}

/// The service segment of `arn:partition:service:...` when it is literal.
fn literal_service(resource: &str) -> Option<&str> {
    let mut parts = resource.split(':');
    let (arn, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let literal = |s: &str| !s.contains(['*', '?', '$']);
    (arn == "arn" && literal(partition) && literal(service) && parts.next().is_some())
        .then_some(service)
}

/// The moves out of one cell of a two-pattern grid: `right` = (a, b+1), `down` = (a+1, b),
/// `diag` = (a+1, b+1).
#[derive(Debug, Default, Clone, Copy)]
struct Moves {
    right: bool,
    down: bool,
    diag: bool,
}

/// Whether cell (rows, cols) is reachable from (0, 0). Row by row over the band of reachable
/// cells, so two mostly literal patterns cost about their length, not the product of lengths.
fn reachable(rows: usize, cols: usize, step: impl Fn(usize, usize) -> Moves) -> bool {
    const ON_STACK: usize = 128;
    let mut stack = [false; 2 * ON_STACK];
    let mut heap = Vec::new();
    let (mut cur, mut next) = if cols < ON_STACK {
        let (a, b) = stack.split_at_mut(ON_STACK);
        (&mut a[..=cols], &mut b[..=cols])
    } else {
        heap.resize(2 * (cols + 1), false);
        heap.split_at_mut(cols + 1)
    };
    cur[0] = true;
    let (mut lo, mut hi) = (0, 0);
    for a in 0..=rows {
        let (mut next_lo, mut next_hi) = (usize::MAX, 0);
        let mut b = lo;
        while b <= hi {
            if cur[b] {
                if a == rows && b == cols {
                    return true;
                }
                let moves = step(a, b);
                if moves.right && b < cols {
                    cur[b + 1] = true;
                    hi = hi.max(b + 1);
                }
                if a < rows {
                    if moves.down {
                        next[b] = true;
                        (next_lo, next_hi) = (next_lo.min(b), next_hi.max(b));
                    }
                    if moves.diag && b < cols {
                        next[b + 1] = true;
                        (next_lo, next_hi) = (next_lo.min(b + 1), next_hi.max(b + 1));
                    }
                }
            }
            b += 1;
        }
        cur[lo..=hi].fill(false);
        if next_lo == usize::MAX {
            return false;
        }
        std::mem::swap(&mut cur, &mut next);
        (lo, hi) = (next_lo, next_hi);
    }
    false
}

/// Whether some ARN matches both the template and the Resource (policy variables as `*`).
/// Rows walk the template, columns the Resource.
fn could_match(t: &[TTok], r: &[RTok]) -> bool {
    reachable(t.len(), r.len(), |i, j| {
        let (tt, rt) = (t.get(i).copied(), r.get(j).copied());
        // A template variable or a Resource wildcard may stop here.
        let mut m = Moves {
            down: matches!(tt, Some(TTok::Var { .. })),
            right: matches!(rt, Some(RTok::Any | RTok::Segment | RTok::PolicyVar)),
            diag: false,
        };
        // Or both produce one more character.
        match (tt, rt) {
            (Some(TTok::Lit(a)), Some(RTok::Lit(b))) => m.diag = a == b,
            (Some(TTok::Lit(_)), Some(RTok::One)) => m.diag = true,
            (Some(TTok::Lit(_)), Some(RTok::Any | RTok::PolicyVar)) => m.down = true,
            (Some(TTok::Lit(a)), Some(RTok::Segment)) => m.down |= a != b':',
            (Some(TTok::Var { colon, slash }), Some(RTok::Lit(b))) => {
                m.right |= (colon || b != b':') && (slash || b != b'/');
            }
            (Some(TTok::Var { .. }), Some(RTok::One)) => m.right = true,
            _ => {}
        }
        m
    })
}

/// Whether the Resource matches every ARN of the template (sound approximation, see the module).
/// Rows walk the Resource, columns the template.
fn covers(r: &[RTok], t: &[TTok]) -> bool {
    reachable(r.len(), t.len(), |j, i| {
        let (rt, tt) = (r.get(j).copied(), t.get(i).copied());
        let mut m = Moves::default();
        match rt {
            Some(RTok::Any) => {
                m.down = true;
                m.right = tt.is_some();
            }
            Some(RTok::Segment) => {
                m.down = true;
                m.right = match tt {
                    Some(TTok::Lit(b)) => b != b':',
                    Some(TTok::Var { colon, .. }) => !colon,
                    None => false,
                };
            }
            Some(RTok::Lit(a)) => m.diag = tt == Some(TTok::Lit(a)),
            Some(RTok::One) => m.diag = matches!(tt, Some(TTok::Lit(_))),
            Some(RTok::PolicyVar) | None => {}
        }
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJECT: &str = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
    const BUCKET: &str = "arn:${Partition}:s3:::${BucketName}";
    const ROLE: &str = "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}";
    const USER: &str = "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}";
    const LOG_GROUP: &str = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}";

    fn relate(template: &'static str, resource: &str) -> (bool, bool) {
        let Some(r) = tokenize_resource(resource) else {
            return (false, false);
        };
        let cuts = segment_cuts(&r, |t| t == RTok::Lit(b':'));
        Template::compile(template).relate(&r, cuts)
    }

    fn can(template: &'static str, resource: &str) -> bool {
        relate(template, resource).0
    }

    fn cov(template: &'static str, resource: &str) -> bool {
        relate(template, resource).1
    }

    #[test]
    fn objects_need_a_slash_and_buckets_have_none() {
        assert!(!can(OBJECT, "arn:aws:s3:::bucket"));
        assert!(can(OBJECT, "arn:aws:s3:::bucket/*"));
        assert!(can(OBJECT, "arn:aws:s3:::bucket/key.txt"));
        assert!(can(OBJECT, "arn:aws:s3:::bucket*"));
        assert!(can(BUCKET, "arn:aws:s3:::bucket"));
        assert!(!can(BUCKET, "arn:aws:s3:::bucket/*"));
        assert!(can(BUCKET, "arn:aws:s3:::*"));
        assert!(!can(BUCKET, "arn:aws:s3:::bucket/key"));
    }

    #[test]
    fn services_partitions_and_segments() {
        assert!(!can(BUCKET, "arn:aws:iam::123456789012:role/x"));
        assert!(can(ROLE, "arn:aws:iam::123456789012:role/x"));
        assert!(can(ROLE, "arn:aws-us-gov:iam::*:role/x"));
        assert!(can(ROLE, "arn:*:iam::*:role/*"));
        assert!(!can(ROLE, "arn:nope:iam::*:role/x"));
        assert!(!can(ROLE, "arn:aws:iam::1:user/x"));
        // the account segment of the template cannot hold a colon
        assert!(!can(ROLE, "arn:aws:iam::1:2:role/x"));
        assert!(!can(ROLE, "role/x"));
        assert!(can(
            LOG_GROUP,
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/*"
        ));
        assert!(can(ROLE, "arn:aws:iam::???:role/x"));
        // a `*` in the account segment stays there when the Resource has all five `:`
        assert!(!can(USER, "arn:aws:iam::*:role/x"));
        assert!(can(USER, "arn:aws:iam::*"));
        assert!(can(USER, "arn:aws:iam::*:*"));
        assert!(!can(ROLE, "arn:aws:iam::?:role"));
    }

    #[test]
    fn policy_variables_may_match_but_never_cover() {
        assert!(can(ROLE, "arn:aws:iam::*:role/${aws:username}"));
        assert!(!cov(ROLE, "arn:aws:iam::*:role/${aws:username}"));
        assert!(cov(ROLE, "arn:aws:iam::*:role/*"));
        assert!(cov(ROLE, "arn:aws:iam::*:*"));
        assert!(cov(ROLE, "arn:aws:iam::*"));
        assert!(cov(ROLE, "arn:aws:*"));
        assert!(!cov(ROLE, "arn:aws:iam::*:user/*"));
        assert!(cov(ROLE, "arn:*:iam::*:role/*"));
        assert!(!cov(ROLE, "arn:aws:iam::123456789012:role/*"));
        assert!(!cov(ROLE, "arn:aws:iam::*:role/app-*"));
        // `${*}` is a literal asterisk, not a wildcard
        assert!(!cov(ROLE, "arn:aws:iam::*:role/${*}"));
        assert!(!cov(ROLE, "arn:aws:iam::?:role/*"));
    }

    #[test]
    fn covering_objects_and_buckets() {
        assert!(cov(BUCKET, "arn:aws:s3:::*"));
        assert!(cov(OBJECT, "arn:aws:s3:::*"));
        assert!(cov(OBJECT, "arn:aws:s3:::*/*"));
        assert!(!cov(BUCKET, "arn:aws:s3:::*/*"));
        assert!(!cov(OBJECT, "arn:aws:s3:::bucket/*"));
        assert!(!cov(OBJECT, "arn:aws:s3:::?*/*"));
    }

    #[test]
    fn resource_heads() {
        assert_eq!(resource_head(ROLE, true), Some(&b"role/"[..]));
        assert_eq!(resource_head(BUCKET, true), Some(&b""[..]));
        assert_eq!(
            resource_head("arn:aws:iam::1:role/app-*", false),
            Some(&b"role/app-"[..])
        );
        assert_eq!(resource_head("arn:aws:iam::*:role/app", false), None);
        assert_eq!(resource_head("arn:aws:s3:::b", false), Some(&b"b"[..]));
        assert_eq!(resource_head("arn:aws:s3::b", false), None);
    }

    #[test]
    fn star_resources() {
        assert!(is_star("*"));
        assert!(is_star("**"));
        assert!(!is_star(""));
        assert!(!is_star("arn:*"));
    }

    #[test]
    fn escaped_characters_are_literal() {
        let r = tokenize_resource("a${*}b${?}${$}${x}").unwrap_or_default();
        let lits: Vec<RTok> = [b'a', b'*', b'b', b'?', b'$'].map(RTok::Lit).to_vec();
        assert_eq!(&r[..2], &lits[..2]);
        assert_eq!(r[2..5], lits[2..5]);
        assert_eq!(r[5], RTok::PolicyVar);
        assert_eq!(literal_service("arn:aws:s3:::b"), Some("s3"));
        assert_eq!(literal_service("arn:aws:s3*:::b"), None);
        assert_eq!(literal_service("arn:*:s3:::b"), None);
    }
}
