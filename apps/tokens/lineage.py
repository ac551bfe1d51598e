"""Token lineage: the tree of tokens exchanged from one another, for operators."""

from dataclasses import dataclass, field

from apps.oauth.models import AccessToken

MAX_NODES = 200


@dataclass
class LineageNode:
    token: AccessToken
    children: list["LineageNode"] = field(default_factory=list)


def lineage_root(token: AccessToken) -> AccessToken:
    """The original token this one was (transitively) exchanged from."""
    seen = {token.pk}
    while token.parent_id is not None and token.parent_id not in seen:
        seen.add(token.parent_id)
        token = AccessToken.objects.select_related("application", "parent").get(pk=token.parent_id)
    return token


def lineage_tree(token: AccessToken) -> LineageNode:
    """The whole family of ``token``: from its root down, level by level (one query per level),
    at most MAX_NODES tokens."""
    root = LineageNode(lineage_root(token))
    level, count = [root], 1
    while level and count < MAX_NODES:
        by_parent = {node.token.pk: node for node in level}
        children = AccessToken.objects.select_related("application").filter(parent_id__in=by_parent)
        level = []
        for child in children.order_by("created")[: MAX_NODES - count]:
            node = LineageNode(child)
            by_parent[child.parent_id].children.append(node)
            level.append(node)
            count += 1
    return root
