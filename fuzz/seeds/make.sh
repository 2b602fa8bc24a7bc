#!/usr/bin/env bash
# Regenerates the seed corpus under fuzz/seeds/<target>/ from the repository's sample inputs
# (tests/fixtures/previews/, examples/, config/). Needs jq and sha1sum. Deterministic: running it
# twice gives the same files. Run from anywhere: `bash fuzz/seeds/make.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=fuzz/seeds
rm -rf "$out/preview" "$out/policy" "$out/repo_config"
mkdir -p "$out/preview" "$out/policy" "$out/repo_config"

# Steps (or events) that bear IAM: most of what the analysis looks at.
iam='iam/|[Pp]olicy|lambda/permission|kms/|sqs/|sns/|ecr/|s3/|rbac.authorization|core/v1:Secret|IAM|[Ii]am[A-Z]|authorization|azuread'
previews=(tests/fixtures/previews/*.json tests/fixtures/previews/*.ndjson examples/*.json tests/fixtures/kubernetes/*.json tests/fixtures/gcp/*.json tests/fixtures/azure/*.json)

# preview: every sample under 100 KB as is, and a small IAM-only cut of each (the big bulk of a
# preview slows the fuzzer down without reaching more code).
for f in "${previews[@]}"; do
    base=$(basename "$f")
    # The clouds' fixtures share file names (escalation.preview.json): keep their folder.
    case "$f" in
    tests/fixtures/kubernetes/* | tests/fixtures/gcp/* | tests/fixtures/azure/*)
        base="$(basename "$(dirname "$f")")-$base"
        ;;
    esac
    cut="$out/preview/${base%.*}.iam-cut.${base##*.}"
    if [ "$(wc -c <"$f")" -le 102400 ]; then
        cp "$f" "$out/preview/$base"
    fi
    case "$f" in
    *.ndjson)
        grep -E '"(preludeEvent|diagnosticEvent|summaryEvent)"' "$f" >"$cut" || true
        grep -E '"resourcePreEvent"' "$f" | grep -E "$iam" | head -n 6 >>"$cut" || true
        ;;
    *)
        jq -c --arg re "$iam" '.steps |= (map(select(tostring | test($re))) | .[:6])' "$f" >"$cut"
        ;;
    esac
done

# policy: every policy document the samples carry, as a JSON string or an object, compact.
for f in "${previews[@]}"; do
    jq -c '.. | (strings | select(test("\"Statement\"")) | (try fromjson catch empty)),
                (objects | select(has("Statement")))' "$f"
done | sort -u | while IFS= read -r doc; do
    name=$(printf '%s' "$doc" | sha1sum | cut -c1-12)
    printf '%s' "$doc" >"$out/policy/$name.json"
done

# policy, by hand: the spellings the canonical form has to fold (NotAction, NotPrincipal, bare
# account ids, Condition values of every scalar type, a single statement object, no Version).
hand=(
    '{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":["arn:aws:s3:::b/*","*"]}}'
    '{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"S3:GetObject","Resource":"*"}]}'
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1","AWS:SourceAccount":["1","2"]},"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":10}}}]}'
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::a"},{"Effect":"Allow","Action":"s3:Put*","Resource":"arn:aws:s3:::a"},{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b"}]}'
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com","AWS":["arn:aws:iam::111122223333:root","444455556666"]},"Action":"sts:AssumeRoleWithWebIdentity"}]}'
    '{"Id":"x","Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Maybe","Action":"*"},{"Effect":"Allow"}]}'
)
for doc in "${hand[@]}"; do
    printf '%s' "$doc" >"$out/policy/hand-$(printf '%s' "$doc" | sha1sum | cut -c1-12).json"
done

# repo_config: the documented example, without its comments, and the smallest valid file.
cp config/iamgate.example.yml "$out/repo_config/example.yml"
sed -e 's/ *#.*$//' -e '/^$/d' config/iamgate.example.yml >"$out/repo_config/example-bare.yml"
printf 'version: 1\n' >"$out/repo_config/minimal.yml"

for t in preview policy repo_config; do
    printf '%s: %s seeds, %s bytes\n' "$t" "$(ls "$out/$t" | wc -l)" "$(cat "$out/$t"/* | wc -c)"
done
