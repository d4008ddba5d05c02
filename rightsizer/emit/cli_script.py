"""The recommendation as AWS CLI commands: `cli/<role>.sh apply | backup | rollback`.

`apply` checks that the role still holds the policies the analysis saw (names and ARNs) with the
documents it analyzed (each inline policy's, and the default version's of each attached managed
policy; compared with keys in one order and a list of one value as a list; the analysis keeps
Condition keys in the order IAM holds them),
backs up today's documents into a new folder, adds the recommendation, and only then deletes and
detaches today's policies, so the role never holds less than either (a managed policy the IAM
snapshot did not hold is checked for and backed up, never detached). A managed policy of the
recommendation that exists already (`<role>-rightsized-N` of an earlier apply) gets a new
default version; the one it had is recorded in the backup folder. `rollback BACKUP_DIR` puts
the backed-up policies back, gives each such policy its earlier default version again (the new
one deleted), and only then removes the recommendation. Every value is single-quoted by
`shlex.quote`; the script holds no credentials (the AWS CLI finds its own).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from shlex import quote
from typing import TYPE_CHECKING, Any

from rightsizer.iam.arn import parse_arn

if TYPE_CHECKING:
    from rightsizer.emit.forms import Target

# The lists of a statement, each always a list in the form the documents are compared in.
_LISTS = ("Action", "NotAction", "Resource", "NotResource")

_FUNCTIONS = r"""
die() { echo "$*" >&2; exit 1; }

# Today's inline policy names / attached managed policy ARNs, sorted, on one line.
inline_names() {
  aws iam list-role-policies --role-name "$role" --query 'sort(PolicyNames)' --output text |
    tr '\t' ' '
}
managed_arns() {
  aws iam list-attached-role-policies --role-name "$role" \
    --query 'sort(AttachedPolicies[].PolicyArn)' --output text | tr '\t' ' '
}

check_unchanged() {
  local inline managed
  inline=$(inline_names)
  managed=$(managed_arns)
  if [[ "$inline" != "$analyzed_inline" || "$managed" != "$analyzed_managed" ]]; then
    die "the policies of role $role changed since the analysis (inline now: '$inline'," \
      "then: '$analyzed_inline'; managed now: '$managed', then: '$analyzed_managed');" \
      "run rightsizer again"
  fi
}

# A document as the checks compare it: keys in one order, each list a list (as the analysis
# wrote it, where one value is a plain string).
document_query='{Version: Version, Id: Id, Statement: [Statement][].{Sid: Sid, Effect: Effect,
  Principal: Principal, NotPrincipal: NotPrincipal, Action: [Action][],
  NotAction: [NotAction][], Resource: [Resource][], NotResource: [NotResource][],
  Condition: Condition}}'
inline_document() {
  aws iam get-role-policy --role-name "$role" --policy-name "$1" \
    --query "PolicyDocument | $document_query" --output json
}
managed_document() {
  local version
  version=$(aws iam get-policy --policy-arn "$1" --query Policy.DefaultVersionId --output text)
  aws iam get-policy-version --policy-arn "$1" --version-id "$version" \
    --query "PolicyVersion.Document | $document_query" --output json
}

# The policy ($2) differs from the document analyzed (printed by $3): its name joins $changed.
changed=""
compare() {
  local now
  now=$("$1" "$2") || now=""
  [[ "$now" == "$("$3")" ]] || changed+="${changed:+, }$4"
}

# A managed policy of the recommendation that exists (an earlier apply) gets a new default
# version; IAM keeps at most 5 versions of a policy, so one with 5 stops apply before a change.
check_versions() {
  local arn count
  for arn in "$@"; do
    aws iam get-policy --policy-arn "$arn" >/dev/null 2>&1 || continue
    count=$(aws iam list-policy-versions --policy-arn "$arn" --query 'length(Versions)' \
      --output text)
    ((count < 5)) || die "managed policy $arn has $count versions, the most IAM keeps, and" \
      "apply adds one: delete one that is not the default (aws iam delete-policy-version)"
  done
}

backup() {
  [[ ! -e "$backup_dir" ]] || die "$backup_dir exists: name a new folder for the backup"
  mkdir -p -- "$backup_dir"
  local names arns name arn version n=0
  inline_names >"$backup_dir/inline-policies.txt"
  managed_arns >"$backup_dir/managed-policies.txt"
  read -r -a names <"$backup_dir/inline-policies.txt" || true
  for name in "${names[@]}"; do
    aws iam get-role-policy --role-name "$role" --policy-name "$name" \
      --query PolicyDocument --output json >"$backup_dir/inline-$name.json"
  done
  read -r -a arns <"$backup_dir/managed-policies.txt" || true
  for arn in "${arns[@]}"; do
    # Numbered as listed: two policies may have one name under different paths.
    n=$((n + 1))
    version=$(aws iam get-policy --policy-arn "$arn" --query Policy.DefaultVersionId --output text)
    aws iam get-policy-version --policy-arn "$arn" --version-id "$version" \
      --query PolicyVersion.Document --output json >"$backup_dir/managed-$n-${arn##*/}.json"
  done
  echo "backed up the policies of role $role to $backup_dir" >&2
}

# A managed policy of the recommendation: a new default version if it exists (an earlier
# apply), its default version before recorded, so that rollback sets it back.
put_managed() {
  local name="$1" arn="$2" document="$3" old new
  if old=$(aws iam get-policy --policy-arn "$arn" --query Policy.DefaultVersionId \
    --output text 2>/dev/null); then
    new=$(aws iam create-policy-version --policy-arn "$arn" --policy-document "$document" \
      --set-as-default --query PolicyVersion.VersionId --output text)
    echo "$arn $old $new" >>"$backup_dir/replaced-versions.txt"
  else
    aws iam create-policy --policy-name "$name" --policy-document "$document" >/dev/null
  fi
  aws iam attach-role-policy --role-name "$role" --policy-arn "$arn"
}

restore() {
  [[ -f "$backup_dir/inline-policies.txt" && -f "$backup_dir/managed-policies.txt" ]] ||
    die "$backup_dir holds no backup of role $role (made by: bash $0 backup DIR)"
  local names arns name arn
  read -r -a names <"$backup_dir/inline-policies.txt" || true
  for name in "${names[@]}"; do
    aws iam put-role-policy --role-name "$role" --policy-name "$name" \
      --policy-document "file://$backup_dir/inline-$name.json"
  done
  read -r -a arns <"$backup_dir/managed-policies.txt" || true
  for arn in "${arns[@]}"; do
    aws iam attach-role-policy --role-name "$role" --policy-arn "$arn"
  done
  # The policies apply gave a new default version: the one they had before, the new deleted.
  [[ -f "$backup_dir/replaced-versions.txt" ]] || return 0
  local old new
  while read -r arn old new; do
    aws iam set-default-policy-version --policy-arn "$arn" --version-id "$old"
    aws iam delete-policy-version --policy-arn "$arn" --version-id "$new"
    echo "managed policy $arn holds its version $old again, as before apply" >&2
  done <"$backup_dir/replaced-versions.txt"
}

# A managed policy of the recommendation the role did not have before apply.
detach_new() {
  aws iam detach-role-policy --role-name "$role" --policy-arn "$1"
  echo "managed policy $1 is detached; it stays in the account" >&2
}

# Whether the backup held this inline policy name or managed policy ARN (then keep it).
backed_up() {
  local saved
  saved=$(cat "$backup_dir/inline-policies.txt" "$backup_dir/managed-policies.txt")
  saved=" ${saved//$'\n'/ } "
  [[ "$saved" == *" $1 "* ]]
}
"""


def checked_form(document: Mapping[str, Any]) -> str:
    """The text `aws ... --query "... | $document_query" --output json` prints for `document`
    as IAM holds it: the analysis writes a list of one as its value, the query makes every
    such value a list, and the AWS CLI prints JSON indented by 4, non-ASCII as it is."""
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]

    def listed(value: Any) -> list[Any]:
        return [] if value is None else [value] if not isinstance(value, list) else value

    form = {
        "Version": document.get("Version"),
        "Id": document.get("Id"),
        "Statement": [
            {
                "Sid": st.get("Sid"),
                "Effect": st.get("Effect"),
                "Principal": st.get("Principal"),
                "NotPrincipal": st.get("NotPrincipal"),
                **{key: listed(st.get(key)) for key in _LISTS},
                "Condition": st.get("Condition"),
            }
            for st in statements
        ],
    }
    return json.dumps(form, indent=4, ensure_ascii=False)


def _heredoc(function: str, text: str) -> list[str]:
    return [f"{function}() {{", "  cat <<'JSON'", text, "JSON", "}", ""]


def write(target: Target) -> str:
    """The shell script of one role's recommendation."""
    role = target.role
    deployed = target.deployment
    arn = parse_arn(role.role_arn)
    partition, account = (arn.partition, arn.account) if arn else ("aws", role.account)
    read = sorted(role.current_policies, key=lambda p: (p.kind, p.arn or p.name))
    inline_today = [p.name for p in read if p.kind == "inline"]
    managed_today = [p.arn or p.name for p in read if p.kind == "managed"]
    # Attached, but not in the snapshot: checked for, backed up, never detached.
    attached = sorted({*managed_today, *role.missing_policies})
    lines = ["#!/usr/bin/env bash", *(f"# {line}".rstrip() for line in target.header)]
    lines += [
        "#",
        f"#   bash {target.base}.sh apply [BACKUP_DIR]   back up today's policies, replace them",
        f"#   bash {target.base}.sh backup [BACKUP_DIR]  only the backup",
        f"#   bash {target.base}.sh rollback BACKUP_DIR  put the backup back, remove the new ones",
        "#",
        "# apply stops before any change if the role's policies or their documents are no longer",
        "# those analyzed, and adds the recommendation before it removes today's policies. The AWS",
        "# CLI takes its credentials, profile and region as usual (AWS_PROFILE, ...).",
        "set -euo pipefail",
        "",
        f"role={quote(role.role_name)}",
        f"analyzed_inline={quote(' '.join(inline_today))}",
        f"analyzed_managed={quote(' '.join(attached))}",
        _FUNCTIONS.rstrip(),
        "",
    ]
    # The documents analyzed, compared with IAM's before any change.
    compared: list[str] = []
    for number, policy in enumerate(read, start=1):
        lines += _heredoc(f"analyzed_{number}", checked_form(policy.document))
        label = f"{policy.kind} policy {policy.arn or policy.name}"
        getter = "inline_document" if policy.kind == "inline" else "managed_document"
        compared.append(
            f"  compare {getter} {quote(policy.arn or policy.name)} analyzed_{number} "
            f"{quote(label)}"
        )
    lines += [
        "check_documents() {",
        *compared,
        '  [[ -z "$changed" ]] || die "the documents of role $role changed since the analysis:"'
        ' "$changed; run rightsizer again"',
        "}",
        "",
    ]
    add: list[tuple[bool, str]] = []  # (changes a policy the role holds, command)
    remove_new: list[str] = []
    new_arns: list[str] = []
    for number, part in enumerate(deployed.parts, start=1):
        lines += _heredoc(f"policy_{number}", json.dumps(part.document, indent=2))
        name = quote(part.name)
        if deployed.form == "inline":
            add.append(
                (
                    False,
                    f'  aws iam put-role-policy --role-name "$role" --policy-name {name} '
                    f'--policy-document "$(policy_{number})"',
                )
            )
            remove_new.append(
                f'  backed_up {name} || aws iam delete-role-policy --role-name "$role" '
                f"--policy-name {name}"
            )
        else:
            policy_arn = f"arn:{partition}:iam::{account}:policy/{part.name}"
            new_arns.append(policy_arn)
            held = policy_arn in managed_today
            add.append((held, f'  put_managed {name} {quote(policy_arn)} "$(policy_{number})"'))
            remove_new.append(f"  backed_up {quote(policy_arn)} || detach_new {quote(policy_arn)}")
    # A part attached today (an earlier apply) changes a policy the role holds: it comes after
    # the parts the role does not hold yet.
    add.sort(key=lambda held_command: held_command[0])
    new_names = {part.name for part in deployed.parts if deployed.form == "inline"}
    remove_old = [
        f'  aws iam delete-role-policy --role-name "$role" --policy-name {quote(name)}'
        for name in inline_today
        if name not in new_names
    ] + [
        f'  aws iam detach-role-policy --role-name "$role" --policy-arn {quote(arn)}'
        for arn in managed_today
        if arn not in new_arns
    ]
    versions = [f"  check_versions {' '.join(quote(a) for a in new_arns)}"] if new_arns else []
    lines += [
        "apply() {",
        "  check_unchanged",
        "  check_documents",
        *versions,
        "  backup",
        *(command for _, command in add),
        *remove_old,
        '  echo "applied to role $role; to undo: bash $0 rollback $backup_dir" >&2',
        "}",
        "",
        "rollback() {",
        "  restore",
        *remove_new,
        '  echo "restored the policies of role $role from $backup_dir" >&2',
        "}",
        "",
        'backup_dir="${2:-rightsizer-backup-$role-$(date -u +%Y%m%dT%H%M%SZ)}"',
        'case "${1:-}" in',
        "  apply) apply ;;",
        "  backup) backup ;;",
        '  rollback) [[ $# -ge 2 ]] || die "usage: bash $0 rollback BACKUP_DIR"; rollback ;;',
        '  *) die "usage: bash $0 apply|backup [BACKUP_DIR], or rollback BACKUP_DIR" ;;',
        "esac",
    ]
    return "\n".join(lines) + "\n"
