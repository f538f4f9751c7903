if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_data(*args, **kwargs):
    model = kwargs.get('model', 'gemma3:270m')
    judge = 'gpt-4o'
    return {'model': model, 'judge': judge}
