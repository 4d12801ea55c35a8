"""Views of the grading blueprint: the class report, synchronous and as a background job.

``GET /class_report?class_id=N`` waits for the grading service (504 when it is too
slow, 502 when it is absent or broken). ``POST /class_report/jobs?class_id=N``
queues the same report and answers 202 at once with the job's URL (Location header
and JSON); ``GET /class_report/jobs/<id>`` shows its state and, when done, its
result or error. 503 when the job queue (Redis) cannot be reached. Errors are
JSON (webapp/school/errors.py); the monitoring tools wrap these views like any other.
Endpoint names are short (``grading.report``, ``grading.enqueue``, ``grading.job``) so
the report's endpoint column tells them apart.
"""
from flask import Blueprint, jsonify, url_for
from werkzeug.exceptions import BadGateway, GatewayTimeout, NotFound, ServiceUnavailable

from webapp.extensions import db
from webapp.grading.client import GradingUnavailable
from webapp.grading.jobs import JOB_ID, QueueUnavailable, job_queue
from webapp.grading.report import build_class_report
from webapp.models import Class
from webapp.school.params import BadParameter, id_arg

bp = Blueprint("grading", __name__)


def _existing_class() -> Class:
    class_id = id_arg("class_id")
    return db.get_or_404(Class, class_id, description=f"class {class_id} does not exist")


@bp.get("/class_report")
def report():
    school_class = _existing_class()  # held: the report finds it in the session, no second query
    try:
        return jsonify(build_class_report(school_class.id))
    except GradingUnavailable as exc:
        raise (GatewayTimeout if exc.timeout else BadGateway)(description=exc.message) from None


@bp.post("/class_report/jobs")
def enqueue():
    class_id = _existing_class().id
    try:
        queued = job_queue().enqueue_class_report(class_id)
    except QueueUnavailable as exc:
        raise ServiceUnavailable(description=exc.message) from None
    url = url_for(".job", job_id=queued.id)
    response = jsonify(id=queued.id, status=queued.get_status(refresh=False).value,
                       class_id=class_id, url=url)
    response.status_code = 202
    response.headers["Location"] = url
    return response


@bp.get("/class_report/jobs/<job_id>")
def job(job_id: str):
    if not JOB_ID.fullmatch(job_id):
        raise BadParameter("job_id", "job_id must be a job id as returned by POST /class_report/jobs")
    try:
        queue = job_queue()
        found = queue.fetch(job_id)
        if found is None:
            raise NotFound(f"job {job_id} does not exist (unknown or expired)")
        return jsonify({**queue.describe(found), "url": url_for(".job", job_id=found.id)})
    except QueueUnavailable as exc:
        raise ServiceUnavailable(description=exc.message) from None
