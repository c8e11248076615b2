"""Function breakpoint fixture for Python 3.5+: coroutines (see functions.py)."""


async def coro(x):
    '''doc'''
    await x
    return 1


class Service:
    async def handle(self):
        pass
        return 2
