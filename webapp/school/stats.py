"""``/stats?class_id=N``: how alike the students of a class are — the CPU-bound endpoint.

For every pair of the class's students, the Jaccard similarity of their class sets;
then the most similar pairs, a histogram and the mean. Loading takes three queries
(the class, its roster, the roster's enrollments); the time is spent in
``class_similarity``, written the straightforward way: ``classes_of`` rescans all
the roster's enrollments for both students of every pair. On the default seed
(~100 students a class, ~10 classes each) that is ~5,000 pairs × 2 scans of ~1,000
rows, a couple of hundred ms of pure Python: the bottleneck the profilers and
``flask report`` should attribute to CPU. The remedy is an algorithm (one
``dict`` of sets built once: ~4 ms instead of ~220 ms for 100 students) or a
background job.
"""
from itertools import combinations

from flask import jsonify
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Class, student_identifier
from webapp.school.params import id_arg
from webapp.school.queries import class_roster
from webapp.school.routes import bp

HISTOGRAM_BUCKETS = 10
TOP_PAIRS = 10


def roster_enrollments(student_ids: list[int]) -> list[tuple[int, int]]:
    """(student_id, class_id) of every enrollment of ``student_ids``, in one query."""
    if not student_ids:
        return []
    stmt = select(student_identifier.c.student_id, student_identifier.c.class_id).where(
        student_identifier.c.student_id.in_(student_ids))
    return [tuple(row) for row in db.session.execute(stmt)]


def classes_of(student_id: int, enrollments: list[tuple[int, int]]) -> list[int]:
    return [class_id for enrolled, class_id in enrollments if enrolled == student_id]


def jaccard(a: list[int], b: list[int]) -> float:
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def class_similarity(student_ids: list[int], enrollments: list[tuple[int, int]],
                     top: int = TOP_PAIRS, buckets: int = HISTOGRAM_BUCKETS) -> dict:
    """Pairwise Jaccard similarity of the students' class sets.

    Returns ``pairs`` (count), ``mean``, ``histogram`` (``buckets`` equal bins over
    [0, 1], the last one closed) and ``most_similar``: the ``top`` pairs as
    ``(similarity, shared classes, id_a, id_b)``, most similar first, ties by ids.
    """
    histogram = [0] * buckets
    scored = []
    total = 0.0
    for a, b in combinations(sorted(student_ids), 2):
        classes_a, classes_b = classes_of(a, enrollments), classes_of(b, enrollments)
        similarity = jaccard(classes_a, classes_b)
        shared = len(set(classes_a) & set(classes_b))
        histogram[min(int(similarity * buckets), buckets - 1)] += 1
        scored.append((similarity, shared, a, b))
        total += similarity
    scored.sort(key=lambda pair: (-pair[0], pair[2], pair[3]))
    return {"pairs": len(scored), "mean": total / len(scored) if scored else None,
            "histogram": histogram, "most_similar": scored[:top]}


@bp.get("/stats")
def stats():
    class_id = id_arg("class_id")
    school_class = db.get_or_404(Class, class_id, description=f"class {class_id} does not exist")
    students = {s.id: s.name for s in class_roster(class_id)}
    result = class_similarity(list(students), roster_enrollments(list(students)))
    width = 1 / HISTOGRAM_BUCKETS
    return jsonify(
        class_id=school_class.id,
        class_name=school_class.name,
        students=len(students),
        pairs=result["pairs"],
        mean_similarity=None if result["mean"] is None else round(result["mean"], 4),
        histogram=[{"from": round(i * width, 2), "to": round((i + 1) * width, 2), "pairs": n}
                   for i, n in enumerate(result["histogram"])],
        most_similar=[{"similarity": round(similarity, 4), "shared_classes": shared,
                       "students": [{"id": a, "name": students[a]}, {"id": b, "name": students[b]}]}
                      for similarity, shared, a, b in result["most_similar"]],
    )
