"""The source article's code, verbatim, kept as text so a lab can run it as written.

The article ("FastAPI数据库连接池配置与监控") shows code in its sections 1-4 and under
"常见报错处理". :func:`run_snippet` executes one: the caller supplies what the rest
of the article defines (``app``, ``asyncio``...), and nothing the article forgot
(``logger``, ``HTTPException``, ``Gauge``).
"""

from __future__ import annotations

from typing import Any

# Section 1: the "credentials" of its TORTOISE_ORM dict.
ARTICLE_CREDENTIALS: dict[str, Any] = {
    "host": "localhost",
    "port": "5432",
    "user": "postgres",
    "password": "secret",
    "database": "mydb",
    "minsize": 3,  # 最小保持连接数
    "maxsize": 20,  # 最大连接数
    "max_inactive_connection_lifetime": 300,  # 空闲连接存活时间(秒)
}

# Section 4: user registration.
ARTICLE_USERS_ROUTE = """\
from fastapi import APIRouter
from models import User_Pydantic, UserIn_Pydantic, Users

router = APIRouter()


@router.post("/users", response_model=User_Pydantic)
async def create_user(user: UserIn_Pydantic):
    try:
        # 自动获取连接执行操作
        user_obj = await Users.create(**user.dict())
        return await User_Pydantic.from_tortoise_orm(user_obj)
    except Exception as e:
        # 记录异常但不干扰连接池
        logger.error(f"Create user failed: {str(e)}")
        raise HTTPException(status_code=400, detail="User creation failed")
"""

# Section 3: metrics.
ARTICLE_METRICS = """\
from prometheus_client import make_asgi_app
from prometheus_fastapi_instrumentator import Instrumentator

# 添加Prometheus中间件
metrics_app = make_asgi_app()
app.mount("/metrics", metrics_app)


# 自定义连接池指标
class DatabaseMetrics:
    def __init__(self):
        self.connections_in_use = Gauge(
            'db_connections_in_use',
            'Current active connections'
        )

    async def update_metrics(self):
        pool = Tortoise.get_connection("default")._pool
        self.connections_in_use.set(pool._size - len(pool._holders))


# 启动定时任务
@app.on_event("startup")
async def start_metrics_task():
    metrics = DatabaseMetrics()

    async def _task():
        while True:
            await metrics.update_metrics()
            await asyncio.sleep(5)

    asyncio.create_task(_task())
"""

# "常见报错处理", prevention: manage transactions with async with.
ARTICLE_TRANSACTION = """\
async with in transaction():
    # 数据库操作
    await User.create(...)
"""


def run_snippet(source: str, label: str, **defined: Any) -> dict[str, Any]:
    """Execute one of the article's snippets; ``defined`` is what the rest of the article
    provides. Returns the namespace it ran in; tracebacks name the file ``<article: label>``.
    """
    namespace = dict(defined)
    exec(compile(source, f"<article: {label}>", "exec"), namespace)
    return namespace
